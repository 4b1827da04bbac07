"""The pure parts of the proxy's input bounds: JSON parsed with its nesting measured (without
recursion), the counts `proxy.limits` sets on messages and parts, max_tokens checked and capped
by a server's ceiling, and the fields that reach a header, a filename or a set lookup checked
before they do. Each refusal is a 400 naming the param or the limit's key."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from modelyard_config.endpoints import CHAT, COMPLETIONS, SPEECH, TRANSCRIPTIONS, TRANSLATIONS
from modelyard_config.limits import Limits
from modelyard_config.proxy import SpokenAnswers
from proxy import chat_audio
from proxy.bodies import JsonBody
from proxy.compose import read_audio
from proxy.errors import ApiError, BadRequestError
from proxy.media_urls import MediaReader
from proxy.request_body import parse_json, too_deep
from proxy.validate import check_body

LIMITS = Limits()


def refusal(call: Any, *args: Any) -> ApiError:
    with pytest.raises(BadRequestError) as caught:
        call(*args)
    assert caught.value.status == 400
    assert caught.value.body()["error"]["type"] == "invalid_request_error"
    return caught.value


# --- parsing and depth ----------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_json_up_to_the_depth_limit_parses() -> None:
    assert parse_json(nested(64), 64)["a"] is not None


@pytest.mark.parametrize("depth", [65, 900, 100_000])
def test_json_deeper_than_the_limit_is_a_400_naming_the_key(depth: int) -> None:
    error = refusal(parse_json, nested(depth), 64)
    assert "proxy.limits.json_depth" in error.message and "64" in error.message


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"\xff\xfe{", b'{"a": 1e}', b'{"n": ' + b"9" * 5000 + b"}", b""],
    ids=["syntax", "not-utf8", "bad-number", "huge-int", "empty"],
)
def test_bytes_that_are_not_json_are_a_400(raw: bytes) -> None:
    assert "not valid JSON" in refusal(parse_json, raw, 64).message


@pytest.mark.parametrize("raw", [b"[]", b'"hi"', b"3", b"null"])
def test_json_that_is_not_an_object_is_a_400(raw: bytes) -> None:
    assert "JSON object" in refusal(parse_json, raw, 64).message


def test_depth_is_measured_without_recursion() -> None:
    deep: list[Any] = []
    for _ in range(200_000):  # far past Python's recursion limit
        deep = [deep]
    assert too_deep({"x": deep}, 64)
    assert not too_deep({"x": [[{"y": [1, 2]}]], "z": "s"}, 5)
    assert too_deep({"x": [[{"y": [1, 2]}]], "z": "s"}, 4)


# --- counts ----------------------------------------------------------------------------------


def messages(*contents: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": c} for c in contents]}


TEXT = {"type": "text", "text": "hi"}
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}


def test_messages_over_the_limit_are_a_400_naming_the_key() -> None:
    limits = Limits(messages=3)
    check_body(CHAT, messages("a", "b", "c"), limits)
    error = refusal(check_body, CHAT, messages("a", "b", "c", "d"), limits)
    assert error.param == "messages" and "proxy.limits.messages" in error.message


def test_content_parts_are_counted_over_all_messages() -> None:
    limits = Limits(content_parts=4)
    check_body(CHAT, messages([TEXT, TEXT], [TEXT, TEXT]), limits)
    error = refusal(check_body, CHAT, messages([TEXT, TEXT], "plain", [TEXT, TEXT, TEXT]), limits)
    assert error.param == "messages[2].content[2]"  # the part that crossed the limit
    assert "proxy.limits.content_parts" in error.message


@pytest.mark.parametrize(
    "kind",
    ["image_url", "input_image", "input_audio", "audio_url", "video_url", "input_video", "file"],
)
def test_media_parts_of_every_kind_are_counted_over_all_messages(kind: str) -> None:
    limits = Limits(media_parts=2)
    part = {"type": kind, kind: {}}
    check_body(CHAT, messages([part, TEXT], [TEXT, part]), limits)
    error = refusal(check_body, CHAT, messages([part], [TEXT, part, part]), limits)
    assert error.param == "messages[1].content[2]"
    assert "proxy.limits.media_parts" in error.message


@pytest.mark.parametrize("role", [["user"], {"r": 1}])
def test_a_role_that_is_not_a_string_is_a_400(role: Any) -> None:
    payload = {"messages": [{"role": role, "content": "hi"}]}
    assert refusal(check_body, CHAT, payload, LIMITS).param == "messages[0].role"


# --- max_tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1, 0, 2.5, "64", True, None, [1]])
@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_must_be_a_positive_integer(key: str, value: Any) -> None:
    chat = {**messages("hi"), key: value}
    completion = {"prompt": "once", key: value}
    if value is None:  # null is absent, as OpenAI takes it
        check_body(CHAT, chat, LIMITS)
        return
    assert refusal(check_body, CHAT, chat, LIMITS).param == key
    if key == "max_tokens":
        assert refusal(check_body, COMPLETIONS, completion, LIMITS).param == key


def rendered(body: JsonBody, ceiling: int | None) -> dict[str, Any]:
    data = body.render("served", ceiling).data
    assert isinstance(data, bytes)
    parsed: dict[str, Any] = json.loads(data)
    return parsed


@pytest.mark.parametrize(
    ("asked", "sent", "lowered"),
    [
        ({"max_tokens": 500}, {"max_tokens": 100}, 100),
        ({"max_completion_tokens": 500}, {"max_completion_tokens": 100}, 100),
        (
            {"max_tokens": 500, "max_completion_tokens": 50},
            {"max_tokens": 100, "max_completion_tokens": 50},
            100,
        ),
        ({}, {"max_tokens": 100}, 100),
        ({"max_tokens": None}, {"max_tokens": 100}, 100),
        ({"max_tokens": 40}, {"max_tokens": 40}, None),
    ],
)
def test_a_ceiling_lowers_what_a_chat_asks_for(
    asked: dict[str, Any], sent: dict[str, Any], lowered: int | None
) -> None:
    body = JsonBody({**messages("hi"), **asked})
    got = rendered(body, 100)
    assert {k: got[k] for k in sent} == sent and got["model"] == "served"
    assert body.capped(100) == lowered


def test_no_ceiling_sends_the_body_as_asked() -> None:
    body = JsonBody({**messages("hi"), "max_tokens": 5000})
    assert rendered(body, None)["max_tokens"] == 5000 and body.capped(None) is None
    assert "max_tokens" not in rendered(JsonBody(messages("hi")), None)


def test_a_ceiling_applies_to_completions_but_not_to_speech() -> None:
    assert rendered(JsonBody({"prompt": "once"}), 100)["max_tokens"] == 100
    speech = JsonBody({"input": "say this", "voice": "alloy"})
    assert "max_tokens" not in rendered(speech, 100) and speech.capped(100) is None


# --- values that reach a header, a filename or a set lookup ----------------------------------


@pytest.mark.parametrize("fmt", [["wav"], {"f": "wav"}, 3, "aiff"])
def test_a_chat_audio_format_that_is_no_format_name_is_a_400(fmt: Any) -> None:
    rule = SpokenAnswers()
    error = refusal(chat_audio.options, {"audio": {"format": fmt}}, rule)
    assert error.param == "audio.format"


@pytest.fixture
async def media() -> AsyncIterator[MediaReader]:
    async with MediaReader(LIMITS, allow_private=False) as reader:  # data: URLs: no fetch
        yield reader


@pytest.mark.parametrize("fmt", ["wav\nx", "mp3\r\n", "a/b", "", ["wav"], "wave-form-audio"])
async def test_an_input_audio_format_outside_the_audio_names_is_a_400(
    media: MediaReader, fmt: Any
) -> None:
    part = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": fmt}}
    with pytest.raises(BadRequestError) as caught:
        await read_audio(media, part, "messages[0].content[0]")
    assert caught.value.param == "messages[0].content[0].input_audio.format"


@pytest.mark.parametrize(
    "fmt", ["wav", "mp3", "flac", "ogg", "webm", "m4a", "opus", "pcm16", "aac"]
)
async def test_input_audio_formats_by_name_are_read(media: MediaReader, fmt: str) -> None:
    part = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": fmt}}
    assert await read_audio(media, part, "p") == (b"RIFF", fmt)


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("data:audio/x\nevil;base64,UklGRg==", "wav"),
        ('data:audio/a"b;base64,UklGRg==', "wav"),
        ("data:audio/mpeg;base64,UklGRg==", "mpeg"),
    ],
)
async def test_an_audio_urls_format_is_a_safe_name_or_wav(
    media: MediaReader, url: str, fmt: str
) -> None:
    part = {"type": "audio_url", "audio_url": {"url": url}}
    assert await read_audio(media, part, "p") == (b"RIFF", fmt)


@pytest.mark.parametrize("endpoint", [TRANSCRIPTIONS, TRANSLATIONS])
@pytest.mark.parametrize(
    "language", ["日本語", "en\r\n", "e", "english", "en-", "en US", "ü", ["en"], "-en"]
)
def test_an_uploads_language_must_be_a_language_code(endpoint: str, language: Any) -> None:
    error = refusal(check_body, endpoint, {"language": language}, LIMITS)
    assert error.param == "language"


@pytest.mark.parametrize("language", ["en", "HI", "yue", "pt-BR", "zh_Hant", "es-419"])
def test_language_codes_are_taken(language: str) -> None:
    check_body(TRANSCRIPTIONS, {"language": language}, LIMITS)


def test_speech_has_no_language_check_and_is_unchanged() -> None:
    check_body(SPEECH, {"input": "hello", "language": "日本語"}, LIMITS)
