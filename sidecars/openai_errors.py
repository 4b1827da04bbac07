"""What both sidecars answer when something goes wrong: OpenAI's error shape,
`{"error": {"message", "type", "param", "code"}}`, from one base class and three handlers.

Each sidecar keeps its own error tree (sidecars/stt/errors.py, sidecars/tts/errors.py) on top
of `OpenAIError`, so its codes stay its own; `HANDLERS` is what each app installs. The proxy
has its own tree (proxy/errors.py): the sidecars run alone too and import nothing of it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("sidecars")


class OpenAIError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


async def handle_openai_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpenAIError)
    if exc.status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc)
    return JSONResponse(exc.body(), status_code=exc.status)


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 400/404/405 (a broken multipart body, an unknown path) in the same shape."""
    assert isinstance(exc, HTTPException)
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    body = error_body(str(exc.detail), type_, None, None)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: a bug still answers in OpenAI's shape, with the reason and no traceback.
    Starlette re-raises after this response is sent, so uvicorn logs the traceback once."""
    reason = f"internal error: {type(exc).__name__}: {exc}"
    return JSONResponse(error_body(reason, "server_error", None, "internal_error"), 500)


Handler = Callable[[Request, Exception], Awaitable[Response]]
HANDLERS: dict[Any, Handler] = {
    OpenAIError: handle_openai_error,
    HTTPException: handle_http_error,
    Exception: handle_unexpected,
}
