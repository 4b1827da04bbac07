"""Builds the proxy's ASGI app: every object is made here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException

from proxy.backends import Backends
from proxy.errors import ProxyError, handle_http_exception, handle_proxy_error
from proxy.forward import upstream_session
from proxy.routes import build_routes
from supervisor.client import AdminClient
from supervisor.config import Config


def create_app(config: Config) -> Starlette:
    settings = config.proxy

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            upstream_session(settings.connect_timeout, settings.request_timeout) as upstream,
            AdminClient(config.supervisor_url()) as admin,
        ):
            app.state.upstream = upstream
            app.state.backends = Backends(admin)
            yield

    return Starlette(
        routes=build_routes(config),
        exception_handlers={
            ProxyError: handle_proxy_error,
            StarletteHTTPException: handle_http_exception,
        },
        lifespan=lifespan,
    )
