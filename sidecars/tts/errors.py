"""The sidecar's one error tree and the handlers that put it on the wire in OpenAI's shape.

    TtsError                    500  {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError         400  a field is missing, malformed or names something unsupported
    ├── ModelNotFoundError      404  `model` is neither an OpenAI TTS model nor a loaded engine
    ├── EngineFailedError       500  a synthesiser crashed or produced no audio
    └── EncodeFailedError       500  the codec rejected the audio

    EngineSetupError                 at start, before serving: not one engine could be loaded

Engines translate their foreign exceptions into EngineFailedError once, where they call the
synthesiser; anything else that escapes is caught only by the app's last-resort handler, which
answers with the exception's class and message, never a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

_LOG = logging.getLogger(__name__)


class TtsError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    def response(self) -> JSONResponse:
        return error_response(self.status, self.message, self.type, self.param, self.code)


class BadRequestError(TtsError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class ModelNotFoundError(TtsError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class EngineFailedError(TtsError):
    code = "engine_failed"


class EncodeFailedError(TtsError):
    code = "encode_failed"


class EngineSetupError(Exception):
    """The sidecar cannot serve: not one engine loaded. The message says why for each."""


def error_response(
    status: int, message: str, type_: str, param: str | None = None, code: str | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {"message": message, "type": type_, "param": param, "code": code}
    }
    return JSONResponse(body, status_code=status)


async def handle_tts_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TtsError)
    if exc.status >= 500:
        _LOG.warning("%s %s -> %d: %s", request.method, request.url.path, exc.status, exc)
    return exc.response()


async def handle_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Unknown paths and wrong methods get the same shape as every other error."""
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, exc.detail, "invalid_request_error")


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: the client gets only the reason. Starlette re-raises the exception after
    this response is sent, so uvicorn logs the traceback on the server side, once."""
    reason = f"internal error: {type(exc).__name__}: {exc}"
    return error_response(500, reason, "server_error", code="internal_error")
