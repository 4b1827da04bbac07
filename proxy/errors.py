"""The proxy's one error tree and the one handler that puts it on the wire in OpenAI's shape.

    ProxyError                     {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError     400    malformed JSON, missing or wrong fields
    │   └── PayloadTooLargeError 413  an audio upload over OpenAI's 25 MB
    ├── AuthenticationError 401    missing or wrong API key
    ├── ModelNotFoundError  404    `model` names no server, route or alias
    ├── UnsupportedInputError 400  no server in the chain takes the request's inputs
    └── UnavailableError    503    the chosen server cannot be started or reached

    ClassifierSetupError           at start: a configured embedder cannot be loaded

Supervisor errors are translated into this tree once, in proxy.upstream.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse


class ProxyError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(
        self, message: str, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class BadRequestError(ProxyError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnsupportedInputError(BadRequestError):
    code = "unsupported_input"


class PayloadTooLargeError(BadRequestError):
    status = 413
    code = "payload_too_large"


class AuthenticationError(ProxyError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class ModelNotFoundError(ProxyError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class UnavailableError(ProxyError):
    status = 503
    type = "server_error"
    code = "model_unavailable"


class ClassifierSetupError(Exception):
    """The proxy cannot start: the classifier's configured embedder is missing or broken."""


async def handle_proxy_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProxyError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own 404/405 (unknown path, wrong method), in OpenAI's shape too."""
    assert isinstance(exc, StarletteHTTPException)
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    body = {
        "error": {
            "message": f"{request.method} {request.url.path}: {exc.detail}",
            "type": type_,
            "param": None,
            "code": None,
        }
    }
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
