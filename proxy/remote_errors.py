"""What a failed LiteLLM call means for the chain, told the way a local server's failure is
(retry.status_reason, forward.py's reasons): a pure function of the exception.

LiteLLM 1.106.12 (read from its source and seen on the wire) does not name a failure by its
class alone, so the exception's whole chain (`__cause__`, `__context__`) is read:

- a connection refused arrives as `InternalServerError` (500) over the SDK's
  `APIConnectionError`, and LiteLLM's own `APIConnectionError` also wraps failures of its
  own (an import that fails inside a call): only a network error in the chain is `connect`;
- a 403 and a 402 arrive as a plain `APIError` with that status, not as their classes;
- a 429's Retry-After is in `litellm_response_headers`, not in `response.headers`;
- a call the SDK refused to send (no key where one is needed, no endpoint) is a bare
  `openai.OpenAIError` under a 500.

So: timeout, then connect, then the server's own setup (`config`: LiteLLM does not know the
provider, the SDK refused to send, the provider does not know the model: a 404), then the
HTTP status: 429, `auth` (401, 402, 403: modelyard's own key or account, not the client's),
`5xx`, and any other 4xx is the client's, passed on with its status in OpenAI's error shape.
What says nothing of the network or HTTP is `error` (LiteLLM failed on its own).

The provider's key is scrubbed from every message this gives (`secret`), whatever LiteLLM
put in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from openai_wire.errors import INVALID_REQUEST, error_body
from proxy.retry import parse_retry_after

# OpenAI's codes for the client errors LiteLLM has classes for, where the provider gave none.
_CLIENT_CODES = {
    "ContextWindowExceededError": "context_length_exceeded",
    "ContentPolicyViolationError": "content_policy_violation",
    "UnsupportedParamsError": "unsupported_parameter",
}
_AUTH = frozenset({401, 402, 403})


@dataclass(frozen=True)
class Failed:
    """The server's failure: `reason` as in x-modelyard-tried and the retry policy."""

    reason: str  # timeout, connect, 429, 5xx, auth, config, error
    detail: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Refused:
    """The client's fault (a 400, a 422, a context window exceeded): its answer, as is."""

    status: int
    body: dict[str, Any]


def outcome_of(exc: BaseException, secret: str | None = None) -> Failed | Refused:
    """`exc`, raised by a LiteLLM call (or its first-byte timeout), as the chain reads it."""
    import httpx
    import openai
    from litellm.exceptions import LiteLLMUnknownProvider

    chain = list(_chain(exc))
    detail = scrub(f"{type(exc).__name__}: {exc}", secret)
    if any(
        isinstance(e, (openai.APITimeoutError, TimeoutError, httpx.TimeoutException)) for e in chain
    ):
        return Failed("timeout", detail)
    network = (httpx.TransportError, ConnectionError, _aiohttp_connection_error())
    if any(isinstance(e, network) or type(e) is openai.APIConnectionError for e in chain):
        return Failed("connect", detail)
    if isinstance(exc, LiteLLMUnknownProvider) or any(type(e) is openai.OpenAIError for e in chain):
        return Failed("config", detail)
    if isinstance(exc, openai.APIConnectionError):  # LiteLLM's catch-all, with no network error
        return Failed("error", detail)
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int):
        return Failed("error", detail)
    if status == 429:
        return Failed("429", detail, _retry_after(exc))
    if status in _AUTH:
        return Failed("auth", detail)
    if status == 404:
        return Failed("config", detail)
    if status >= 500:
        return Failed("5xx", detail)
    if status < 400:
        return Failed("error", detail)
    return Refused(status, _client_body(exc, secret))


def scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _aiohttp_connection_error() -> type[BaseException]:
    import aiohttp

    return aiohttp.ClientConnectionError


def _retry_after(exc: BaseException) -> float | None:
    """The provider's Retry-After, wherever this LiteLLM kept it."""
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(exc, "headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if headers:
            found = parse_retry_after(headers.get("retry-after"))
            if found is not None:
                return found
    return None


def _client_body(exc: BaseException, secret: str | None) -> dict[str, Any]:
    message = scrub(str(getattr(exc, "message", None) or exc), secret)
    code = getattr(exc, "code", None)
    if not isinstance(code, str):
        code = _CLIENT_CODES.get(type(exc).__name__)
    param = getattr(exc, "param", None)
    return error_body(message, INVALID_REQUEST, param if isinstance(param, str) else None, code)
