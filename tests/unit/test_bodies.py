"""The body each attempt sends upstream, per endpoint: a server's `max_tokens` ceiling lowers
or sets the field that bounds the answer in that API (Responses: max_output_tokens; Messages:
max_tokens), never reaches an endpoint that generates no tokens, and a request about a stored
response carries no body at all."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelyard_config.endpoints import (
    CHAT,
    COMPLETIONS,
    COUNT_TOKENS,
    EMBEDDINGS,
    MESSAGES,
    RERANK,
    RERANK_V2,
    RESPONSES,
    SCORE,
)
from proxy.bodies import JsonBody, NoBody


def sent(body: JsonBody, ceiling: int | None) -> dict[str, Any]:
    outgoing = body.render("served", ceiling)
    assert outgoing.content_type == "application/json" and outgoing.method == "POST"
    assert isinstance(outgoing.data, bytes)
    parsed: dict[str, Any] = json.loads(outgoing.data)
    assert parsed["model"] == "served"
    return parsed


@pytest.mark.parametrize(
    ("asked", "lowered", "capped"),
    [
        ({"max_output_tokens": 5000}, {"max_output_tokens": 100}, 100),
        ({}, {"max_output_tokens": 100}, 100),  # "as many as the context allows" is too many
        ({"max_output_tokens": None}, {"max_output_tokens": 100}, 100),
        ({"max_output_tokens": 40}, {"max_output_tokens": 40}, None),
    ],
)
def test_a_ceiling_lowers_or_sets_a_responses_max_output_tokens(
    asked: dict[str, Any], lowered: dict[str, Any], capped: int | None
) -> None:
    body = JsonBody.of(RESPONSES, {"input": "hi", **asked})
    got = sent(body, 100)
    assert {k: got[k] for k in lowered} == lowered
    assert "max_tokens" not in got and "max_completion_tokens" not in got  # not its fields
    assert body.capped(100) == capped


@pytest.mark.parametrize(
    ("asked", "lowered", "capped"),
    [
        ({"max_tokens": 5000}, 100, 100),
        ({"max_tokens": 40}, 40, None),
    ],
)
def test_a_ceiling_lowers_a_messages_max_tokens(
    asked: dict[str, Any], lowered: int, capped: int | None
) -> None:
    body = JsonBody.of(MESSAGES, {"messages": [{"role": "user", "content": "hi"}], **asked})
    got = sent(body, 100)
    assert got["max_tokens"] == lowered and "max_completion_tokens" not in got
    assert body.capped(100) == capped


@pytest.mark.parametrize(
    ("endpoint", "payload"),
    [
        (EMBEDDINGS, {"input": ["a", "b"]}),
        (RERANK, {"query": "q", "documents": ["a"]}),
        (RERANK_V2, {"query": "q", "documents": ["a"]}),
        (SCORE, {"text_1": "q", "text_2": ["a"]}),
        (COUNT_TOKENS, {"messages": [{"role": "user", "content": "hi"}]}),  # counts, no answer
    ],
)
def test_an_endpoint_that_generates_nothing_never_gets_a_max_tokens(
    endpoint: str, payload: dict[str, Any]
) -> None:
    body = JsonBody.of(endpoint, payload)
    got = sent(body, 100)
    assert {k: v for k, v in got.items() if k != "model"} == payload
    assert body.capped(100) is None


def test_the_chat_fields_are_still_the_chats() -> None:
    chat = JsonBody.of(CHAT, {"messages": [], "max_completion_tokens": 500})
    assert sent(chat, 100)["max_completion_tokens"] == 100
    assert sent(JsonBody.of(COMPLETIONS, {"prompt": "once"}), 100)["max_tokens"] == 100


def test_a_body_is_rendered_afresh_for_each_server() -> None:
    body = JsonBody.of(RESPONSES, {"input": "hi", "max_output_tokens": 5000})
    assert sent(body, 100)["max_output_tokens"] == 100
    assert sent(body, None)["max_output_tokens"] == 5000  # the next server has no ceiling
    assert body.payload["max_output_tokens"] == 5000 and "model" not in body.payload


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_no_body_renders_its_method_and_no_data(method: str) -> None:
    outgoing = NoBody(method).render("served", 100)
    assert (outgoing.method, outgoing.data, outgoing.content_type) == (method, None, None)
    assert NoBody(method).capped(100) is None
    assert NoBody().render("served").method == "GET"
