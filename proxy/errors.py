"""The proxy's one error tree, on the wire in OpenAI's shape (openai_wire.errors builds the
body and installs the handlers).

    ProxyError                     {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError     400    malformed JSON, missing or wrong fields
    │   ├── UnsupportedInputError  no server in the chain takes the request's inputs
    │   ├── PayloadTooLargeError 413  a body, an upload or a media URL over its limit
    │   └── RequestTimeoutError 408  a body that stopped arriving, or took too long
    ├── AuthenticationError 401    missing or wrong API key
    ├── ModelNotFoundError  404    `model` names no server, route or alias
    ├── ResponseNotFoundError 404  a response id this proxy never relayed, or has forgotten
    ├── ResponseGoneError   409    the server process that stored a response has stopped
    ├── RateLimitedError    429    a key over its requests per minute (Retry-After)
    │   └── TooManyConcurrentError  a key over its requests in flight
    └── UnavailableError    503    the chosen server cannot be started or reached

    ClassifierSetupError           at start: a configured embedder cannot be loaded

Supervisor errors are translated into this tree once, in proxy.backends.
"""

from __future__ import annotations

from openai_wire.errors import (
    BAD_REQUEST,
    INVALID_API_KEY,
    INVALID_REQUEST,
    MODEL_NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    RATE_LIMITED,
    REQUEST_TIMEOUT,
    TOO_MANY_CONCURRENT,
    UNAVAILABLE,
    ApiError,
    Fault,
)


class ProxyError(ApiError):
    pass


class BadRequestError(ProxyError):
    fault = BAD_REQUEST


class UnsupportedInputError(BadRequestError):
    fault = BAD_REQUEST.with_code("unsupported_input")


class PayloadTooLargeError(BadRequestError):
    fault = PAYLOAD_TOO_LARGE


class RequestTimeoutError(BadRequestError):
    fault = REQUEST_TIMEOUT


class AuthenticationError(ProxyError):
    fault = INVALID_API_KEY


class ModelNotFoundError(ProxyError):
    fault = MODEL_NOT_FOUND


class ResponseNotFoundError(ProxyError):
    fault = MODEL_NOT_FOUND.with_code("response_not_found")


class ResponseGoneError(ProxyError):
    fault = Fault(409, INVALID_REQUEST, "response_holder_gone")


class RateLimitedError(ProxyError):
    fault = RATE_LIMITED


class TooManyConcurrentError(RateLimitedError):
    fault = TOO_MANY_CONCURRENT


class UnavailableError(ProxyError):
    fault = UNAVAILABLE


class ClassifierSetupError(Exception):
    """The proxy cannot start: the classifier's configured embedder is missing or broken."""
