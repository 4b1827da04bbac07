"""The sidecar's one error tree, and the one handler that puts it on the wire in OpenAI's shape.

    SttError                        {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError       400   a missing or malformed form field
    │   ├── UnreadableAudioError    the upload is not audio PyAV can decode, or holds none
    │   ├── UnsupportedLanguageError  `language` is not one the chosen model speaks
    │   ├── UnknownModelError       `model` names no loaded model (lists the known ones)
    │   └── UnsupportedTaskError    translation asked of an English-only model
    └── PayloadTooLargeError  413   the upload is over the size limit

    ModelSetupError                 at start: a model directory is missing or cannot be built

PyAV and Starlette exceptions are translated into this tree once, where they are raised
(`audio.decode`, `app`), so a client never sees a 500 for a bad upload.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse


class SttError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, self.param, self.code)


class BadRequestError(SttError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnreadableAudioError(BadRequestError):
    code = "invalid_audio"


class UnsupportedLanguageError(BadRequestError):
    code = "unsupported_language"


class UnknownModelError(BadRequestError):
    code = "model_not_found"


class UnsupportedTaskError(BadRequestError):
    code = "unsupported_task"


class PayloadTooLargeError(SttError):
    status = 413
    type = "invalid_request_error"
    code = "file_too_large"


class ModelSetupError(Exception):
    """Raised before the server binds; the CLI prints it and exits non-zero."""


def error_body(message: str, type_: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


async def handle_stt_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SttError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 400/404/405 (a broken multipart body, an unknown path) in the same shape."""
    assert isinstance(exc, HTTPException)
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    body = error_body(str(exc.detail), type_, None, None)
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """The one catch-all: a bug still answers in OpenAI's shape rather than a bare text 500."""
    body = error_body(f"Internal error: {type(exc).__name__}", "server_error", None, None)
    return JSONResponse(body, status_code=500)
