"""Request features: content parts, output modalities, tools and the text to classify."""

from __future__ import annotations

from modelyard_config.endpoints import CHAT, SPEECH
from proxy.classify.features import CLASSIFIED_CHARS, extract


def test_chat_parts_modalities_tools_and_last_user_text() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "You are helpful."},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {"type": "video_url", "video_url": {"url": "https://example.com/c.mp4"}},
                    {"type": "text", "text": "make her say hello"},
                ],
            },
        ],
        "modalities": ["text", "audio"],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    f = extract("/v1/chat/completions", body)
    assert (f.image, f.audio_in, f.video, f.audio_out, f.tools) == (True, True, True, True, True)
    assert f.text == "make her say hello" and f.messages == 2
    assert f.modalities == ["text", "image", "audio", "video"]


def test_text_only_chat_takes_the_last_user_turn() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
        ]
    }
    f = extract("/v1/chat/completions", body)
    assert (f.text, f.image, f.audio_out, f.modalities) == ("second", False, False, ["text"])


def test_audio_endpoints() -> None:
    stt = extract("/v1/audio/transcriptions", {"model": "whisper-1", "language": "hi"})
    assert stt.audio_in and stt.language_hint == "hi" and stt.text == ""
    tts = extract("/v1/audio/speech", {"input": "नमस्ते", "voice": "alloy"})
    assert tts.audio_out and tts.text == "नमस्ते"


def test_malformed_parts_are_ignored_not_fatal() -> None:
    body = {"messages": ["oops", {"role": "user", "content": [3, {"type": "text"}]}]}
    f = extract("/v1/chat/completions", body)
    assert (f.text, f.messages) == ("", 2)


def test_completions_prompt_string_or_list() -> None:
    assert extract("/v1/completions", {"prompt": "def f():"}).text == "def f():"
    assert extract("/v1/completions", {"prompt": ["a", "b", 3]}).text == "a b"


def test_the_classified_text_is_bounded_to_its_head_and_tail() -> None:
    """The cue regexes cost microseconds a character: a huge prompt must not reach them whole,
    while its size still counts against the servers' context."""
    long = "translate this: " + "x" * 1_000_000 + " and read it aloud"
    features = extract(CHAT, {"messages": [{"role": "user", "content": long}]})
    assert len(features.text) <= CLASSIFIED_CHARS + 1
    assert features.text.startswith("translate this: ")
    assert features.text.endswith(" and read it aloud")
    assert features.prompt_chars == len(long)
    speech = extract(SPEECH, {"input": long})
    assert len(speech.text) <= CLASSIFIED_CHARS + 1 and speech.prompt_chars == len(long)
    short = extract(CHAT, {"messages": [{"role": "user", "content": "hello there"}]})
    assert short.text == "hello there"
