"""The APIs beside chat (proxy/apis): each malformed body is a 400 naming its field, each
count over `proxy.limits` a 400 naming the limit's key, and each request is read by the
classifier as the chat it amounts to (a Responses or Messages request) or as the texts it
carries (embeddings, rerank, score)."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config.endpoints import (
    COUNT_TOKENS,
    EMBEDDINGS,
    MESSAGES,
    RERANK,
    RERANK_V2,
    RESPONSES,
    SCORE,
)
from modelyard_config.limits import Limits
from proxy.apis import messages, responses
from proxy.classify.features import extract
from proxy.classify.language import of_request
from proxy.errors import BadRequestError
from proxy.validate import check_body

LIMITS = Limits()
PNG = "data:image/png;base64,iVBORw0KGgo="
RESPONSES_IMAGE = {"type": "input_image", "image_url": PNG}
RESPONSES_AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
ANTHROPIC_IMAGE = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
}


def refused(endpoint: str, payload: dict[str, Any], limits: Limits = LIMITS) -> BadRequestError:
    with pytest.raises(BadRequestError) as caught:
        check_body(endpoint, payload, limits)
    assert caught.value.status == 400
    return caught.value


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def anthropic(*turns: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"max_tokens": 64, "messages": list(turns), **extra}


# --- malformed bodies: a 400 on the field -----------------------------------------------------

MALFORMED = [
    # embeddings
    (EMBEDDINGS, {}, "input"),
    (EMBEDDINGS, {"input": {"text": "hi"}}, "input"),
    (EMBEDDINGS, {"input": []}, "input"),
    (EMBEDDINGS, {"input": ["a", 3]}, "input[1]"),
    (EMBEDDINGS, {"input": ["a", [1, "x"]]}, "input[1]"),
    (EMBEDDINGS, {"input": "a", "encoding_format": "hex"}, "encoding_format"),
    (EMBEDDINGS, {"input": "a", "dimensions": 0}, "dimensions"),
    (EMBEDDINGS, {"input": "a", "dimensions": True}, "dimensions"),
    # rerank, both shapes
    (RERANK, {"documents": ["a"]}, "query"),
    (RERANK, {"query": "  ", "documents": ["a"]}, "query"),
    (RERANK, {"query": "q"}, "documents"),
    (RERANK, {"query": "q", "documents": []}, "documents"),
    (RERANK, {"query": "q", "documents": ["a", {"body": "b"}]}, "documents[1]"),
    (RERANK, {"query": "q", "documents": [[1, 2]]}, "documents[0]"),  # no token ids here
    (RERANK, {"query": "q", "documents": ["a"], "top_n": -1}, "top_n"),
    (RERANK_V2, {"query": "q", "documents": ["a"], "top_n": False}, "top_n"),
    # score
    (SCORE, {"text_2": ["b"]}, "text_1"),
    (SCORE, {"text_1": "a"}, "text_2"),
    (SCORE, {"text_1": "a", "text_2": []}, "text_2"),
    (SCORE, {"text_1": "a", "text_2": [7]}, "text_2[0]"),
    (SCORE, {"queries": "a"}, "documents"),
    (SCORE, {"queries": "a", "items": []}, "items"),
    # the Responses API
    (RESPONSES, {}, "input"),
    (RESPONSES, {"input": []}, "input"),
    (RESPONSES, {"input": 3}, "input"),
    (RESPONSES, {"input": ["hi"]}, "input[0]"),
    (RESPONSES, {"input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
    (RESPONSES, {"input": [{"type": "message", "content": "hi"}]}, "input[0].role"),
    (RESPONSES, {"input": [{"type": 7}]}, "input[0].type"),
    (RESPONSES, {"input": [user(5)]}, "input[0].content"),
    (RESPONSES, {"input": [user([{"text": "no type"}])]}, "input[0].content[0]"),
    (RESPONSES, {"input": "hi", "instructions": ["be brief"]}, "instructions"),
    (RESPONSES, {"input": "hi", "previous_response_id": "../etc"}, "previous_response_id"),
    (RESPONSES, {"input": "hi", "previous_response_id": "r" * 129}, "previous_response_id"),
    (RESPONSES, {"input": "hi", "previous_response_id": 12}, "previous_response_id"),
    (RESPONSES, {"input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
    (RESPONSES, {"input": "hi", "max_output_tokens": "64"}, "max_output_tokens"),
    # Anthropic's Messages API
    (MESSAGES, {"max_tokens": 8}, "messages"),
    (MESSAGES, anthropic(), "messages"),
    (MESSAGES, anthropic("hi"), "messages[0]"),
    (MESSAGES, anthropic({"role": "system", "content": "hi"}), "messages[0].role"),
    (MESSAGES, anthropic(user(5)), "messages[0].content"),
    (MESSAGES, anthropic(user([{"text": "no type"}])), "messages[0].content[0]"),
    (MESSAGES, anthropic(user("hi"), system=3), "system"),
    (MESSAGES, anthropic(user("hi"), system=[ANTHROPIC_IMAGE]), "system[0]"),
    (MESSAGES, {"messages": [user("hi")]}, "max_tokens"),  # required for a message
    (MESSAGES, anthropic(user("hi"), max_tokens="64"), "max_tokens"),
    (COUNT_TOKENS, {"messages": [user("hi")], "max_tokens": 0}, "max_tokens"),
    (COUNT_TOKENS, {"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
]


@pytest.mark.parametrize(("endpoint", "payload", "param"), MALFORMED)
def test_a_malformed_body_is_a_400_naming_the_field(
    endpoint: str, payload: dict[str, Any], param: str
) -> None:
    error = refused(endpoint, payload)
    assert error.param == param
    assert error.body()["error"]["type"] == "invalid_request_error"


WELL_FORMED = [
    (EMBEDDINGS, {"input": "one text"}),
    (EMBEDDINGS, {"input": ["a", "b"], "encoding_format": "base64", "dimensions": 256}),
    (EMBEDDINGS, {"input": [101, 2023, 102]}),  # one input as token ids
    (EMBEDDINGS, {"input": [[101, 102], [101, 2023, 102]]}),  # several
    (RERANK, {"query": "q", "documents": ["a", "b"], "top_n": 0}),
    (RERANK_V2, {"query": "q", "documents": [{"text": "a"}, "b"]}),  # Cohere's documents
    (SCORE, {"text_1": "a", "text_2": ["b", "c"]}),
    (SCORE, {"queries": "a", "documents": ["b", "c"]}),  # vLLM's other spellings
    (SCORE, {"queries": ["a"], "items": ["b"]}),
    (RESPONSES, {"input": "hi", "instructions": "be brief", "previous_response_id": "resp_0a"}),
    (
        RESPONSES,
        {
            "input": [
                {"type": "message", "role": "developer", "content": "terse"},
                user([{"type": "input_text", "text": "what is this?"}, RESPONSES_IMAGE]),
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
                {"type": "reasoning", "summary": []},
            ],
            "max_output_tokens": 64,
        },
    ),
    (
        MESSAGES,
        anthropic(
            user([ANTHROPIC_IMAGE, {"type": "text", "text": "what is this?"}]),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f"}]},
            user([{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]),
            system=[{"type": "text", "text": "terse"}],
        ),
    ),
    (COUNT_TOKENS, {"messages": [user("how many tokens?")], "system": "terse"}),
]


@pytest.mark.parametrize(("endpoint", "payload"), WELL_FORMED)
def test_a_well_formed_body_passes(endpoint: str, payload: dict[str, Any]) -> None:
    check_body(endpoint, payload, LIMITS)


# --- limits: a 400 naming proxy.limits.<key> -----------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "field", "payload"),
    [
        (EMBEDDINGS, "input", lambda n: {"input": ["x"] * n}),
        (EMBEDDINGS, "input", lambda n: {"input": [[1, 2]] * n}),
        (RERANK, "documents", lambda n: {"query": "q", "documents": ["d"] * n}),
        (RERANK_V2, "documents", lambda n: {"query": "q", "documents": [{"text": "d"}] * n}),
        (SCORE, "text_1", lambda n: {"text_1": ["a"] * n, "text_2": "b"}),
        (SCORE, "text_2", lambda n: {"text_1": "a", "text_2": ["b"] * n}),
    ],
)
def test_a_batch_over_batch_inputs_is_a_400_naming_the_key(
    endpoint: str, field: str, payload: Any
) -> None:
    limits = Limits(batch_inputs=4)
    check_body(endpoint, payload(4), limits)
    error = refused(endpoint, payload(5), limits)
    assert error.param == field
    assert "proxy.limits.batch_inputs" in error.message and "5" in error.message


def test_token_ids_of_one_input_are_not_a_batch() -> None:
    """One text as token ids is as long as the text: 3,000 tokens are one input, not 3,000."""
    limits = Limits(batch_inputs=4)
    check_body(EMBEDDINGS, {"input": list(range(3000))}, limits)
    error = refused(EMBEDDINGS, {"input": [[1, 2]] * 5}, limits)  # five inputs are five
    assert "proxy.limits.batch_inputs" in error.message


@pytest.mark.parametrize(
    ("endpoint", "payload", "param"),
    [
        (RESPONSES, {"input": [user("a")] * 4}, "input"),
        (MESSAGES, anthropic(*[user("a")] * 4), "messages"),
        (COUNT_TOKENS, {"messages": [user("a")] * 4}, "messages"),
    ],
)
def test_messages_over_the_limit_are_a_400_naming_the_key(
    endpoint: str, payload: dict[str, Any], param: str
) -> None:
    limits = Limits(messages=3)
    error = refused(endpoint, payload, limits)
    assert error.param == param and "proxy.limits.messages" in error.message


TEXT_PART = {"type": "input_text", "text": "hi"}
TEXT_BLOCK = {"type": "text", "text": "hi"}


@pytest.mark.parametrize(
    ("endpoint", "payload", "param"),
    [
        (
            RESPONSES,
            {"input": [user([TEXT_PART] * 2), user([TEXT_PART] * 3)]},
            "input[1].content[2]",
        ),
        (
            MESSAGES,
            anthropic(user([TEXT_BLOCK] * 2), user([TEXT_BLOCK] * 3)),
            "messages[1].content[2]",
        ),
    ],
)
def test_content_parts_are_counted_over_all_turns(
    endpoint: str, payload: dict[str, Any], param: str
) -> None:
    error = refused(endpoint, payload, Limits(content_parts=4))
    assert error.param == param and "proxy.limits.content_parts" in error.message


@pytest.mark.parametrize(
    ("endpoint", "media", "text"),
    [
        (RESPONSES, RESPONSES_IMAGE, TEXT_PART),
        (RESPONSES, RESPONSES_AUDIO, TEXT_PART),
        (RESPONSES, {"type": "input_file", "file_id": "f1"}, TEXT_PART),
        (MESSAGES, ANTHROPIC_IMAGE, TEXT_BLOCK),
        (MESSAGES, {"type": "document", "source": {"type": "text", "data": "x"}}, TEXT_BLOCK),
    ],
)
def test_media_parts_in_every_apis_spelling_are_counted(
    endpoint: str, media: dict[str, Any], text: dict[str, Any]
) -> None:
    limits = Limits(media_parts=2)
    key = "input" if endpoint == RESPONSES else "messages"
    extra = {"max_tokens": 8} if endpoint == MESSAGES else {}

    def body(*turns: list[dict[str, Any]]) -> dict[str, Any]:
        return {key: [user(list(parts)) for parts in turns], **extra}

    check_body(endpoint, body([media, text], [text, media]), limits)
    error = refused(endpoint, body([media], [text, media, media]), limits)
    assert error.param == f"{key}[1].content[2]"
    assert "proxy.limits.media_parts" in error.message


# --- chat views: what the classifier reads of a Responses or Messages request ---------------


def test_responses_instructions_become_the_system_message_and_a_string_input_the_user() -> None:
    view = responses.chat_view({"instructions": "be brief", "input": "hi", "max_output_tokens": 9})
    assert view["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert view["max_tokens"] == 9


def test_responses_items_map_to_chat_messages_and_parts() -> None:
    view = responses.chat_view(
        {
            "input": [
                user([{"type": "input_text", "text": "look"}, RESPONSES_IMAGE, RESPONSES_AUDIO]),
                {"role": "assistant", "content": [{"type": "output_text", "text": "seen"}]},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "42"},
            ]
        }
    )
    assert view["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "input_image"},
                {"type": "input_audio"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "seen"}]},
        {"role": "tool", "content": "42"},
    ]


def test_anthropic_system_blocks_and_content_blocks_map_to_chat() -> None:
    view = messages.chat_view(
        anthropic(
            user([ANTHROPIC_IMAGE, {"type": "text", "text": "what is this?"}]),
            {"role": "assistant", "content": "a cat"},
            system=[{"type": "text", "text": "be"}, {"type": "text", "text": "brief"}],
            tools=[{"name": "f", "input_schema": {}}],
        )
    )
    assert view["messages"] == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [{"type": "image_url"}, {"type": "text", "text": "what is this?"}],
        },
        {"role": "assistant", "content": "a cat"},
    ]
    assert view["max_tokens"] == 64 and view["tools"] == [{"name": "f", "input_schema": {}}]


def test_an_anthropic_tool_result_is_the_tools_words_not_the_users() -> None:
    """In Anthropic's wire a tool's output comes back inside a user turn; read as the user's
    words, an agent loop's every turn would be classified by the file or page a tool read
    (the Responses API's function_call_output is a tool message for the same reason)."""
    view = messages.chat_view(
        anthropic(
            user("please read this file aloud to me"),
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "cat"}]},
            user(
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "def f(): pass"}],
                    }
                ]
            ),
        )
    )
    assert view["messages"][-1] == {"role": "tool", "content": "def f(): pass"}
    features = extract(MESSAGES, view)
    assert features.text == "please read this file aloud to me"
    assert features.prompt_chars == len("please read this file aloud to me") + len("def f(): pass")


def test_anthropic_text_beside_a_tool_result_stays_the_users() -> None:
    view = messages.chat_view(
        anthropic(
            user(
                [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                    {"type": "text", "text": "now explain it"},
                ]
            )
        )
    )
    assert view["messages"] == [
        {"role": "tool", "content": "42"},
        {"role": "user", "content": [{"type": "text", "text": "now explain it"}]},
    ]


# --- features of each endpoint ---------------------------------------------------------------


def test_responses_features_see_images_audio_tools_and_max_output_tokens() -> None:
    f = extract(
        RESPONSES,
        {
            "instructions": "You describe pictures.",
            "input": [user([{"type": "input_text", "text": "what is this?"}, RESPONSES_IMAGE])],
            "tools": [{"type": "function", "name": "lookup"}],
            "max_output_tokens": 300,
        },
    )
    assert (f.image, f.audio_in, f.video, f.audio_out, f.tools) == (True, False, False, False, True)
    assert f.modalities == ["text", "image"]
    assert f.text == "what is this?" and f.max_tokens == 300
    assert f.prompt_chars == len("You describe pictures.") + len("what is this?")
    heard = extract(RESPONSES, {"input": [user([RESPONSES_AUDIO])]})
    assert heard.audio_in and heard.modalities == ["audio"]


def test_messages_features_see_images_tools_max_tokens_and_the_system_prompt() -> None:
    body = anthropic(
        user([ANTHROPIC_IMAGE, {"type": "text", "text": "यह क्या है?"}]),
        system="You describe pictures.",
        tools=[{"name": "f", "input_schema": {}}],
    )
    for endpoint in (MESSAGES, COUNT_TOKENS):
        f = extract(endpoint, body)
        assert (f.image, f.tools, f.max_tokens) == (True, True, 64)
        assert f.modalities == ["text", "image"] and f.text == "यह क्या है?"
        assert f.prompt_chars == len("You describe pictures.") + len("यह क्या है?")
        assert of_request(f.language_hint, f.text).code == "hi"


@pytest.mark.parametrize(
    ("endpoint", "payload", "longest"),
    [
        (EMBEDDINGS, {"input": ["short", "the longest of the three", "mid-sized"]}, 24),
        (EMBEDDINGS, {"input": "just one text"}, 13),
        (EMBEDDINGS, {"input": [101, 2023, 102]}, 0),  # token ids: no text to measure
        (RERANK, {"query": "which?", "documents": ["doc one", {"text": "document two"}]}, 12),
        (SCORE, {"text_1": "a question", "text_2": ["an answer", "a far longer answer"]}, 19),
        (SCORE, {"queries": "a question", "documents": ["an answer", "a far longer answer"]}, 19),
    ],
)
def test_pooling_features_size_the_longest_input_not_the_batch(
    endpoint: str, payload: dict[str, Any], longest: int
) -> None:
    """A batch is many requests to the server's context, each as long as one input."""
    f = extract(endpoint, payload)
    assert f.prompt_chars == longest
    assert (f.image, f.audio_in, f.audio_out, f.tools, f.max_tokens) == (
        False,
        False,
        False,
        False,
        None,
    )
    assert f.modalities == (["text"] if longest else [])


def test_pooling_text_is_read_for_its_language_query_first() -> None:
    f = extract(RERANK, {"query": "यह दस्तावेज़ किस बारे में है", "documents": ["मौसम आज अच्छा है"]})
    assert f.text.startswith("यह दस्तावेज़")
    assert of_request(f.language_hint, f.text).code == "hi"
    french = extract(EMBEDDINGS, {"input": ["bonjour tout le monde, comment allez-vous"]})
    assert of_request(french.language_hint, french.text).code == "fr"
