"""The supervisor's admin HTTP API, used by the proxy and the `modelyard` CLI.

Listens on localhost by default: it can start and stop processes, so it is not for the world.
Errors use the same OpenAI shape as the proxy, so one client parses both.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from supervisor.config import Config
from supervisor.errors import NoFreePortError, StartFailedError, UnknownServerError
from supervisor.fleet import Fleet

log = logging.getLogger("modelyard.supervisor")


def error_body(message: str, type_: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code, **extra}}


def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # trust_env=False: health probes go to 127.0.0.1 and must never go through a proxy.
        async with httpx.AsyncClient(trust_env=False) as http:
            fleet = Fleet(config, http)
            app.state.fleet = fleet
            try:
                yield
            finally:
                log.info("supervisor shutting down: stopping every server")
                await fleet.stop_all()

    app = FastAPI(title="modelyard supervisor", lifespan=lifespan)

    @app.exception_handler(UnknownServerError)
    async def _unknown(request: Request, exc: UnknownServerError) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc), "invalid_request_error", "server_not_found"), status_code=404
        )

    @app.exception_handler(StartFailedError)
    async def _failed(request: Request, exc: StartFailedError) -> JSONResponse:
        body = error_body(
            str(exc),
            "server_error",
            "server_start_failed",
            server=exc.name,
            reason=exc.reason,
            exit_code=exc.exit_code,
            log_tail=exc.log_tail,
        )
        return JSONResponse(body, status_code=503)

    @app.exception_handler(NoFreePortError)
    async def _no_port(request: Request, exc: NoFreePortError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "server_error", "no_free_port"), status_code=503)

    def fleet(request: Request) -> Fleet:
        result: Fleet = request.app.state.fleet
        return result

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/servers")
    async def list_servers(request: Request) -> dict[str, Any]:
        return {"servers": fleet(request).describe_all()}

    @app.get("/servers/{name}")
    async def get_server(name: str, request: Request) -> dict[str, Any]:
        f = fleet(request)
        return f.describe(f.get(name))

    @app.post("/servers/{name}/ensure")
    async def ensure(name: str, request: Request) -> dict[str, Any]:
        return await fleet(request).ensure(name)

    @app.post("/servers/{name}/stop")
    async def stop(name: str, request: Request) -> dict[str, Any]:
        return await fleet(request).stop(name)

    return app
