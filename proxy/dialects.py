"""How each API the proxy speaks says that something went wrong: one place for the three
wires, chosen by the request's path.

- OpenAI (chat, completions, audio, embeddings, rerank): `{"error": {"message", "type",
  "param", "code"}}`; a stream that breaks after its first byte ends with a `data:` event
  holding that body, then `data: [DONE]`.
- OpenAI's Responses API (`/v1/responses*`): the same body for a refused request; a broken
  stream ends with its own `event: error` (`{"type": "error", "code", "message", "param"}`),
  which the SDK hands the caller as a `ResponseErrorEvent`.
- Anthropic's Messages API (`/v1/messages*`): `{"type": "error", "error": {"type",
  "message"}}` with Anthropic's error types, and `event: error` with that body in a stream.

An error is raised once, as a `ProxyError` (or a Starlette `HTTPException`, or a bug); the
handlers here render it in the wire of the path it happened on, so a Claude-shaped client
reads Anthropic's shape whether the refusal came from a key, a limit or an empty chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from modelyard_config.endpoints import ANTHROPIC, RESPONSES
from openai_wire import errors as openai_errors
from openai_wire.errors import ApiError, Handler

# Anthropic's error types by HTTP status (docs.anthropic.com, "Errors"); 5xx is api_error,
# but for a 503 (nothing can take the request now): overloaded_error, which its SDK retries.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
}


@dataclass(frozen=True)
class Dialect:
    name: str  # "openai" | "responses" | "anthropic"

    def error_body(self, status: int, openai_body: dict[str, Any]) -> dict[str, Any]:
        """The body for an error the proxy answers itself, from its OpenAI form."""
        if self.name != "anthropic":
            return openai_body
        error = openai_body.get("error") or {}
        default = "api_error" if status >= 500 else "invalid_request_error"
        kind = _ANTHROPIC_TYPES.get(status, default)
        return {"type": "error", "error": {"type": kind, "message": error.get("message", "")}}

    def stream_error(self, message: str, code: str) -> bytes:
        """The last event of a stream that broke after its first byte."""
        if self.name == "openai":
            return openai_errors.stream_error(message, code)
        if self.name == "responses":
            event: dict[str, Any] = {"type": "error", "code": code, "message": message}
            event["param"] = None
        else:
            event = {"type": "error", "error": {"type": "api_error", "message": message}}
        return f"event: error\ndata: {json.dumps(event)}\n\n".encode()


OPENAI = Dialect("openai")
RESPONSES_API = Dialect("responses")
ANTHROPIC_API = Dialect("anthropic")


def of_path(path: str) -> Dialect:
    if path in ANTHROPIC:
        return ANTHROPIC_API
    if path == RESPONSES or path.startswith(RESPONSES + "/"):
        return RESPONSES_API
    return OPENAI


async def _reshaped(request: Request, response: JSONResponse) -> JSONResponse:
    dialect = of_path(request.url.path)
    if dialect.name != "anthropic":
        return response
    body = json.loads(bytes(response.body))
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    status = response.status_code
    return JSONResponse(dialect.error_body(status, body), status, headers)


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    return await _reshaped(request, await openai_errors.handle_api_error(request, exc))


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    return await _reshaped(request, await openai_errors.handle_http_exception(request, exc))


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    return await _reshaped(request, await openai_errors.handle_unexpected(request, exc))


HANDLERS: dict[Any, Handler] = {
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def anthropic_upstream_error(response: Response) -> Response:
    """An upstream's error on an Anthropic path, in Anthropic's shape: vLLM answers a body its
    schema rejects (a missing field) in OpenAI's shape even on /v1/messages, and a Claude
    client reads only its own. A body already in Anthropic's shape, or not JSON, passes."""
    if response.status_code < 400 or isinstance(response, StreamingResponse):
        return response
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    if not isinstance(body, dict) or body.get("type") == "error":
        return response
    error = body.get("error")
    said = error.get("message") if isinstance(error, dict) else None
    message = said or body.get("detail") or f"HTTP {response.status_code}"
    openai_shaped = {"error": {"message": str(message)}}
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    reshaped = ANTHROPIC_API.error_body(response.status_code, openai_shaped)
    return JSONResponse(reshaped, response.status_code, headers)
