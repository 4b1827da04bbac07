"""Request bodies checked before anything reads them: each malformed field is a 400 that names
it, so a client sees `messages[1].content` instead of a classifier crash or an upstream 500."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.errors import BadRequestError
from proxy.validate import check_chat, check_completion, check_model

SYSTEM = {"role": "system", "content": "You are helpful."}


def param_of(check: Any, payload: dict[str, Any]) -> str | None:
    with pytest.raises(BadRequestError) as info:
        check(payload)
    assert info.value.status == 400
    assert info.value.body()["error"]["type"] == "invalid_request_error"
    return info.value.param


@pytest.mark.parametrize(
    "payload",
    [{}, {"messages": None}, {"messages": []}, {"messages": "hi"}, {"messages": {"role": "user"}}],
    ids=["missing", "null", "empty", "string", "object"],
)
def test_messages_must_be_a_non_empty_list(payload: dict[str, Any]) -> None:
    assert param_of(check_chat, payload) == "messages"


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([SYSTEM, "hello"], "messages[1]"),
        ([None], "messages[0]"),
        ([SYSTEM, {"content": "hi"}], "messages[1].role"),
        ([{"role": "User", "content": "hi"}], "messages[0].role"),
        ([{"role": "robot", "content": "hi"}], "messages[0].role"),
        ([SYSTEM, {"role": "user", "content": 42}], "messages[1].content"),
        ([SYSTEM, {"role": "user", "content": {"type": "text"}}], "messages[1].content"),
        ([{"role": "user", "content": ["hi"]}], "messages[0].content[0]"),
        ([{"role": "user", "content": [{"text": "hi"}]}], "messages[0].content[0]"),
        (
            [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": 3}]}],
            "messages[0].content[1]",
        ),
    ],
    ids=[
        "not-an-object",
        "null-message",
        "no-role",
        "role-case",
        "unknown-role",
        "content-number",
        "content-object",
        "part-not-object",
        "part-without-type",
        "part-type-not-string",
    ],
)
def test_each_malformed_field_is_named(messages: list[Any], param: str) -> None:
    assert param_of(check_chat, {"messages": messages}) == param


def test_the_error_message_names_the_field_and_the_bad_role() -> None:
    with pytest.raises(BadRequestError) as info:
        check_chat({"messages": [SYSTEM, {"role": "robot", "content": "hi"}]})
    assert "'messages[1].role'" in info.value.message
    assert "'robot'" in info.value.message


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "hi"}],
        [
            SYSTEM,
            {"role": "user", "content": "what is the weather?"},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
            {"role": "tool", "content": "sunny", "tool_call_id": "1"},
        ],
        [{"role": "developer", "content": "be brief"}, {"role": "user", "content": ""}],
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                ],
            }
        ],
    ],
    ids=["plain", "tool-call-with-null-content", "developer", "parts"],
)
def test_valid_chats_pass(messages: list[Any]) -> None:
    check_chat({"messages": messages})


@pytest.mark.parametrize("prompt", ["", "def f():", ["a", "b"], [[1, 2, 3]]])
def test_completion_prompt_string_or_non_empty_list(prompt: Any) -> None:
    check_completion({"prompt": prompt})


@pytest.mark.parametrize(
    "payload", [{}, {"prompt": None}, {"prompt": []}, {"prompt": 3}, {"prompt": {"a": 1}}]
)
def test_completion_without_a_prompt_is_rejected(payload: dict[str, Any]) -> None:
    assert param_of(check_completion, payload) == "prompt"


@pytest.mark.parametrize("model", [3, ["auto"], {"name": "auto"}, True])
def test_model_must_be_a_string(model: Any) -> None:
    assert param_of(check_model, {"model": model}) == "model"


@pytest.mark.parametrize(("payload", "model"), [({}, None), ({"model": "gpt-4o"}, "gpt-4o")])
def test_model_is_returned_when_valid(payload: dict[str, Any], model: str | None) -> None:
    assert check_model(payload) == model
