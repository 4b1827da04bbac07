"""The proxy's one error tree, on the wire in OpenAI's shape (openai_wire.errors builds the
body and installs the handlers).

    ProxyError                     {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError     400    malformed JSON, missing or wrong fields
    │   ├── UnsupportedInputError  no server in the chain takes the request's inputs
    │   └── PayloadTooLargeError 413  an upload or a media URL over its limit
    ├── AuthenticationError 401    missing or wrong API key
    ├── ModelNotFoundError  404    `model` names no server, route or alias
    └── UnavailableError    503    the chosen server cannot be started or reached

    ClassifierSetupError           at start: a configured embedder cannot be loaded

Supervisor errors are translated into this tree once, in proxy.backends.
"""

from __future__ import annotations

from openai_wire.errors import (
    BAD_REQUEST,
    INVALID_API_KEY,
    MODEL_NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNAVAILABLE,
    ApiError,
)


class ProxyError(ApiError):
    pass


class BadRequestError(ProxyError):
    fault = BAD_REQUEST


class UnsupportedInputError(BadRequestError):
    fault = BAD_REQUEST.with_code("unsupported_input")


class PayloadTooLargeError(BadRequestError):
    fault = PAYLOAD_TOO_LARGE


class AuthenticationError(ProxyError):
    fault = INVALID_API_KEY


class ModelNotFoundError(ProxyError):
    fault = MODEL_NOT_FOUND


class UnavailableError(ProxyError):
    fault = UNAVAILABLE


class ClassifierSetupError(Exception):
    """The proxy cannot start: the classifier's configured embedder is missing or broken."""
