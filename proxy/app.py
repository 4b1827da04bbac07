"""Builds the proxy's ASGI app: every object is made here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from proxy.backends import Backends
from proxy.errors import ProxyError, handle_http_exception, handle_proxy_error
from proxy.routes import build_router
from supervisor.client import AdminClient
from supervisor.config import Config


def create_app(config: Config) -> FastAPI:
    settings = config.proxy

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timeout = httpx.Timeout(settings.request_timeout, connect=settings.connect_timeout)
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        async with (
            httpx.AsyncClient(timeout=timeout, limits=limits, trust_env=False) as upstream,
            AdminClient(config.supervisor_url()) as admin,
        ):
            app.state.upstream = upstream
            app.state.backends = Backends(admin)
            yield

    app = FastAPI(title="modelyard proxy", lifespan=lifespan)
    app.add_exception_handler(ProxyError, handle_proxy_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.include_router(build_router(config))
    return app
