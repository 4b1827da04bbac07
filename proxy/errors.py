"""The proxy's one error tree, on the wire in OpenAI's shape (openai_wire.errors builds the
body and installs the handlers).

    ProxyError                     {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError     400    malformed JSON, missing or wrong fields
    │   ├── UnsupportedInputError  no server in the chain takes the request's inputs
    │   ├── PayloadTooLargeError 413  a body, an upload or a media URL over its limit
    │   └── RequestTimeoutError 408  a body that stopped arriving, or took too long
    ├── AuthenticationError 401    missing or wrong API key
    │   └── AdminTokenError        the status page's action or log tail without the admin token
    ├── UiActionsDisabledError 403 no admin token is configured: the status page is read-only
    ├── ServerNotFoundError 404    the status page named a server the config does not have
    ├── ActionNotFoundError 404    ... or an action it does not have
    ├── ActionFailedError   409    the supervisor refused a status page action (an engine's no)
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
    FORBIDDEN,
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


class AdminTokenError(AuthenticationError):
    fault = INVALID_API_KEY.with_code("invalid_admin_token")


class UiActionsDisabledError(ProxyError):
    fault = FORBIDDEN.with_code("ui_actions_disabled")


class ServerNotFoundError(ProxyError):
    fault = MODEL_NOT_FOUND.with_code("server_not_found")


class ActionNotFoundError(ProxyError):
    fault = MODEL_NOT_FOUND.with_code("action_not_found")


class ActionFailedError(ProxyError):
    fault = Fault(409, INVALID_REQUEST, "action_failed")


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
