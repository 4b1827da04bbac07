"""How each API says something went wrong, chosen by the request's path: OpenAI's error body
and stream error, the Responses API's `event: error`, and Anthropic's error shape and types."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.requests import Request

from openai_wire.errors import fault_body
from proxy.dialects import ANTHROPIC_API, OPENAI, RESPONSES_API, Dialect, handle_api_error, of_path
from proxy.errors import (
    AuthenticationError,
    BadRequestError,
    ModelNotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    UnavailableError,
)


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/v1/chat/completions", OPENAI),
        ("/v1/completions", OPENAI),
        ("/v1/embeddings", OPENAI),
        ("/v1/rerank", OPENAI),
        ("/v2/rerank", OPENAI),
        ("/v1/score", OPENAI),
        ("/v1/audio/speech", OPENAI),
        ("/v1/audio/transcriptions", OPENAI),
        ("/v1/models/agent", OPENAI),
        ("/health", OPENAI),
        ("/route", OPENAI),
        ("/v1/responses", RESPONSES_API),
        ("/v1/responses/resp_1", RESPONSES_API),
        ("/v1/responses/resp_1/cancel", RESPONSES_API),
        ("/v1/responsesx", OPENAI),  # a prefix of a word is not the path
        ("/v1/messages", ANTHROPIC_API),
        ("/v1/messages/count_tokens", ANTHROPIC_API),
    ],
)
def test_the_path_chooses_the_dialect(path: str, dialect: Dialect) -> None:
    assert of_path(path) == dialect


ANTHROPIC_TYPES = [
    (400, "invalid_request_error"),
    (401, "authentication_error"),
    (403, "permission_error"),
    (404, "not_found_error"),
    (409, "invalid_request_error"),  # no type of its own: a 4xx is the request's
    (413, "request_too_large"),
    (429, "rate_limit_error"),
    (500, "api_error"),
    (502, "api_error"),
    (503, "overloaded_error"),  # the type Anthropic's SDK retries
]


@pytest.mark.parametrize(("status", "kind"), ANTHROPIC_TYPES)
def test_anthropic_error_bodies_carry_its_type_for_each_status(status: int, kind: str) -> None:
    openai = {"error": {"message": "why", "type": "x", "param": "p", "code": "c"}}
    assert ANTHROPIC_API.error_body(status, openai) == {
        "type": "error",
        "error": {"type": kind, "message": "why"},
    }


@pytest.mark.parametrize("dialect", [OPENAI, RESPONSES_API])
def test_openai_and_responses_bodies_are_openais(dialect: Dialect) -> None:
    openai = {"error": {"message": "why", "type": "x", "param": "p", "code": "c"}}
    assert dialect.error_body(404, openai) == openai


def events(raw: bytes) -> list[dict[str, str]]:
    """Server-sent events as the SDKs parse them: `field: value` lines, a blank line ends one."""
    assert raw.endswith(b"\n\n"), raw
    parsed = []
    for block in raw.decode().split("\n\n")[:-1]:
        event: dict[str, str] = {}
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            event[field] = event[field] + "\n" + value if field in event else value
        parsed.append(event)
    return parsed


def test_openais_stream_error_is_a_data_event_then_done() -> None:
    error, done = events(OPENAI.stream_error("upstream broke", "upstream_stream_error"))
    assert "event" not in error and done == {"data": "[DONE]"}
    assert json.loads(error["data"]) == {
        "error": {
            "message": "upstream broke",
            "type": "server_error",
            "param": None,
            "code": "upstream_stream_error",
        }
    }


def test_the_responses_apis_stream_error_is_an_error_event() -> None:
    (error,) = events(RESPONSES_API.stream_error("upstream broke", "upstream_stream_error"))
    assert error["event"] == "error"
    assert json.loads(error["data"]) == {
        "type": "error",
        "code": "upstream_stream_error",
        "message": "upstream broke",
        "param": None,
    }


def test_anthropics_stream_error_is_an_error_event_in_its_shape() -> None:
    (error,) = events(ANTHROPIC_API.stream_error("upstream broke", "upstream_stream_error"))
    assert error["event"] == "error"
    assert json.loads(error["data"]) == {
        "type": "error",
        "error": {"type": "api_error", "message": "upstream broke"},
    }


@pytest.mark.parametrize("dialect", [OPENAI, RESPONSES_API, ANTHROPIC_API])
def test_a_message_with_newlines_stays_inside_one_event(dialect: Dialect) -> None:
    """An upstream's error text may hold anything; it must not end the event or forge one."""
    message = 'line one\nline "two"\r\n\ndata: [DONE]'
    parsed = events(dialect.stream_error(message, "c"))
    assert len(parsed) == (2 if dialect is OPENAI else 1)
    body = json.loads(parsed[0]["data"])
    assert (body.get("error") or {}).get("message", body.get("message")) == message


def request(path: str) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [],
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (BadRequestError("bad", param="messages"), "invalid_request_error"),
        (AuthenticationError("no key"), "authentication_error"),
        (ModelNotFoundError("gone", param="model"), "not_found_error"),
        (PayloadTooLargeError("big"), "request_too_large"),
        (RateLimitedError("slow down", headers={"retry-after": "7"}), "rate_limit_error"),
        (UnavailableError("down"), "overloaded_error"),
    ],
)
async def test_a_proxy_error_on_the_messages_path_is_rendered_in_anthropics_shape(
    error: Exception, kind: str
) -> None:
    response = await handle_api_error(request("/v1/messages"), error)
    body = json.loads(bytes(response.body))
    assert body == {"type": "error", "error": {"type": kind, "message": str(error)}}
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.body)
    if isinstance(error, RateLimitedError):
        assert response.headers["retry-after"] == "7"  # the headers survive the reshaping


async def test_the_same_error_elsewhere_keeps_openais_shape() -> None:
    error = BadRequestError("bad", param="input")
    for path in ("/v1/chat/completions", "/v1/responses"):
        response = await handle_api_error(request(path), error)
        assert json.loads(bytes(response.body)) == fault_body(error.fault, "bad", "input")


def test_an_upstream_openai_shaped_error_on_messages_is_reshaped_for_anthropic_clients() -> None:
    import json as _json

    from starlette.responses import Response

    from proxy.dialects import anthropic_upstream_error

    vllm = {"error": {"message": "1 validation error: body.max_tokens", "type": "Bad Request"}}
    upstream = Response(_json.dumps(vllm), 400, {"x-modelyard-model": "tiny-qwen-a"})
    reshaped = anthropic_upstream_error(upstream)
    body = _json.loads(bytes(reshaped.body))
    assert body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": vllm["error"]["message"]},
    }
    assert reshaped.status_code == 400
    assert reshaped.headers["x-modelyard-model"] == "tiny-qwen-a"
    already = Response(_json.dumps({"type": "error", "error": {"type": "x", "message": "m"}}), 404)
    assert anthropic_upstream_error(already) is already
