"""OpenAI's error body, built here and nowhere else: `{"error": {"message", "type", "param",
"code"}}`, with the same status, type and code for the same fault whichever server answers.

    ApiError                       base of every error a modelyard server answers on purpose
    └── (each package's own tree: proxy/errors.py, sidecars/stt/errors.py, ...)

An error class names its `Fault`; the shared faults are constants below, so "an unknown
model" is a 404 `model_not_found` from the proxy and from both sidecars alike. `HANDLERS` are
the Starlette exception handlers every app installs: its own errors, Starlette's 404/405, and a
last resort so that a bug still answers in this shape instead of a plain-text 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("modelyard")

INVALID_REQUEST = "invalid_request_error"
SERVER_ERROR = "server_error"


@dataclass(frozen=True)
class Fault:
    status: int
    type: str
    code: str | None

    def with_code(self, code: str) -> Fault:
        """The same status and type, a more specific code (`unsupported_input` is a 400)."""
        return replace(self, code=code)


BAD_REQUEST = Fault(400, INVALID_REQUEST, "invalid_request")
INVALID_API_KEY = Fault(401, "authentication_error", "invalid_api_key")
MODEL_NOT_FOUND = Fault(404, INVALID_REQUEST, "model_not_found")
PAYLOAD_TOO_LARGE = Fault(413, INVALID_REQUEST, "payload_too_large")
REQUEST_TIMEOUT = Fault(408, INVALID_REQUEST, "request_timeout")  # a body too slow to arrive
INTERNAL = Fault(500, SERVER_ERROR, "internal_error")
UNAVAILABLE = Fault(503, SERVER_ERROR, "model_unavailable")
CAPACITY_UNAVAILABLE = Fault(503, SERVER_ERROR, "capacity_unavailable")
# OpenAI's own 429 for requests per minute: type "requests", code "rate_limit_exceeded".
RATE_LIMITED = Fault(429, "requests", "rate_limit_exceeded")
TOO_MANY_CONCURRENT = RATE_LIMITED.with_code("concurrency_limit_exceeded")
FORBIDDEN = Fault(403, INVALID_REQUEST, "forbidden")
DRAINING = Fault(503, SERVER_ERROR, "draining")  # shutting down: retry elsewhere or later


def error_body(
    message: str, type_: str, param: str | None = None, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The body itself; `extra` carries fields beyond OpenAI's four that a caller acts on
    (the admin API's exit code and log tail)."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def fault_body(
    fault: Fault, message: str, param: str | None = None, **extra: Any
) -> dict[str, Any]:
    return error_body(message, fault.type, param, fault.code, **extra)


def stream_error(message: str, code: str) -> bytes:
    """The last event of a server-sent stream that broke after its first byte, then [DONE],
    so a client sees why it stopped rather than a silently cut stream."""
    body = error_body(message, SERVER_ERROR, None, code)
    return f"data: {json.dumps(body)}\n\ndata: [DONE]\n\n".encode()


class ApiError(Exception):
    fault: ClassVar[Fault] = INTERNAL

    def __init__(
        self, message: str, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return self.fault.status

    @property
    def type(self) -> str:
        return self.fault.type

    @property
    def code(self) -> str | None:
        return self.fault.code

    def body(self) -> dict[str, Any]:
        return fault_body(self.fault, self.message, self.param)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if exc.status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 400/404/405 (a broken multipart body, an unknown path, a wrong method)."""
    assert isinstance(exc, HTTPException)
    type_ = INVALID_REQUEST if exc.status_code < 500 else SERVER_ERROR
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return JSONResponse(error_body(message, type_), exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: a bug still answers in OpenAI's shape, with the reason and no traceback.
    Starlette re-raises after this response is sent, so uvicorn logs the traceback once."""
    message = f"internal error: {type(exc).__name__}: {exc}"
    return JSONResponse(fault_body(INTERNAL, message), INTERNAL.status)


Handler = Callable[[Request, Exception], Awaitable[Response]]
HANDLERS: dict[Any, Handler] = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
