"""The admin API's errors on the wire: the supervisor's error tree in OpenAI's shape
(openai_wire.errors), so that one client parses the proxy's and the admin API's errors alike,
plus the fields a caller acts on (the admin client reads them back into the same exceptions).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from modelyard_config.loading import key_path
from openai_wire.errors import (
    BAD_REQUEST,
    CAPACITY_UNAVAILABLE,
    HANDLERS,
    MODEL_NOT_FOUND,
    UNAVAILABLE,
    Fault,
    fault_body,
)
from supervisor.engine import EngineCallError
from supervisor.errors import (
    CapacityError,
    NoFreePortError,
    StartFailedError,
    UnknownServerError,
)

# The admin API's own codes; a client matches on them (supervisor/client.py).
_FAULTS: dict[type[Exception], Fault] = {
    UnknownServerError: MODEL_NOT_FOUND.with_code("server_not_found"),
    StartFailedError: UNAVAILABLE.with_code("server_start_failed"),
    CapacityError: CAPACITY_UNAVAILABLE,
    NoFreePortError: UNAVAILABLE.with_code("no_free_port"),
    EngineCallError: Fault(409, BAD_REQUEST.type, "engine_refused"),
}


def _details(exc: Exception) -> dict[str, Any]:
    """Fields beyond OpenAI's four that a caller acts on."""
    if isinstance(exc, StartFailedError):
        return {
            "server": exc.name,
            "reason": exc.reason,
            "exit_code": exc.exit_code,
            "log_tail": exc.log_tail,
        }
    if isinstance(exc, CapacityError):
        return {"server": exc.name, "reason": exc.reason, "retry_after": exc.retry_after}
    return {}


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    fault = next(v for k, v in _FAULTS.items() if isinstance(exc, k))
    retry_after = getattr(exc, "retry_after", None)
    headers = {"retry-after": str(int(retry_after))} if retry_after else {}
    body = fault_body(fault, str(exc), **_details(exc))
    return JSONResponse(body, status_code=fault.status, headers=headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    """A malformed query or path parameter: a 400 naming it, as the proxy would answer."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = key_path(tuple(first["loc"])[1:]) or None  # drop "query" / "path"
    body = fault_body(BAD_REQUEST, f"{param or 'request'}: {first['msg']}", param)
    return JSONResponse(body, status_code=BAD_REQUEST.status)


def add_error_handlers(app: FastAPI) -> None:
    for error, handler in HANDLERS.items():
        app.add_exception_handler(error, handler)
    app.add_exception_handler(RequestValidationError, _invalid)
    for error in _FAULTS:
        app.add_exception_handler(error, _handle)
