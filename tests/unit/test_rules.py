"""Stage 1 of the classifier: which of the shipped intents a request can be, from its endpoint
and its inputs alone, most specific first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from modelyard_config import parse_config
from modelyard_config.classifier import IntentSpec
from proxy.classify.features import extract
from proxy.classify.rules import candidates

INTENTS = ("agent", "tts", "stt", "avatar", "multimodal", "video")

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/face.jpg"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
VIDEO = {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}


@pytest.fixture(scope="module")
def intents() -> Mapping[str, IntentSpec]:
    config = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {name: ["a"] for name in INTENTS},
        }
    )
    return config.classifier.intents


def chat(*parts: dict[str, Any], text: str = "hello", **extra: Any) -> dict[str, Any]:
    content: list[dict[str, Any]] = [*parts]
    if text:
        content.append({"type": "text", "text": text})
    return {"model": "auto", "messages": [{"role": "user", "content": content}], **extra}


def intents_for(
    intents: Mapping[str, IntentSpec], endpoint: str, body: dict[str, Any]
) -> tuple[str, ...]:
    return candidates(intents, extract(endpoint, body)).intents


def test_default_intents_are_the_six_shipped(intents: Mapping[str, IntentSpec]) -> None:
    assert tuple(intents) == INTENTS


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("/v1/audio/transcriptions", {"model": "whisper-1", "prompt": "read this aloud"}),
        ("/v1/audio/translations", {"model": "whisper-1"}),
    ],
)
def test_transcription_endpoints_are_stt_alone(
    intents: Mapping[str, IntentSpec], endpoint: str, body: dict[str, Any]
) -> None:
    found = candidates(intents, extract(endpoint, body))
    assert found.intents == ("stt",)
    assert found.reason == f"endpoint {endpoint} means stt"


def test_speech_endpoint_is_tts_alone(intents: Mapping[str, IntentSpec]) -> None:
    body = {"model": "tts-1", "input": "Write a Python function", "voice": "alloy"}
    assert intents_for(intents, "/v1/audio/speech", body) == ("tts",)


@pytest.mark.parametrize(
    "extra",
    [
        {"modalities": ["text", "audio"]},
        {"audio": {"voice": "alloy", "format": "wav"}},
    ],
    ids=["modalities", "audio-field"],
)
def test_audio_out_means_tts(intents: Mapping[str, IntentSpec], extra: dict[str, Any]) -> None:
    found = candidates(intents, extract("/v1/chat/completions", chat(text="hi there", **extra)))
    assert found.intents == ("tts",)
    assert found.reason == "audio output requested"


def test_audio_out_with_an_image_still_goes_to_the_intent_that_speaks(
    intents: Mapping[str, IntentSpec],
) -> None:
    body = chat(IMAGE, text="describe it", modalities=["text", "audio"])
    assert intents_for(intents, "/v1/chat/completions", body) == ("tts",)


def test_image_prefers_multimodal_then_avatar(intents: Mapping[str, IntentSpec]) -> None:
    found = candidates(intents, extract("/v1/chat/completions", chat(IMAGE)))
    assert found.intents == ("multimodal", "avatar")
    assert found.reason == "inputs text+image"


def test_video_prefers_video_then_avatar(intents: Mapping[str, IntentSpec]) -> None:
    assert intents_for(intents, "/v1/chat/completions", chat(VIDEO)) == ("video", "avatar")


def test_image_and_video_go_to_video_first(intents: Mapping[str, IntentSpec]) -> None:
    assert intents_for(intents, "/v1/chat/completions", chat(IMAGE, VIDEO)) == ("video", "avatar")


def test_audio_in_prefers_stt_then_avatar(intents: Mapping[str, IntentSpec]) -> None:
    assert intents_for(intents, "/v1/chat/completions", chat(AUDIO)) == ("stt", "avatar")


@pytest.mark.parametrize(
    "parts",
    [(IMAGE, AUDIO), (AUDIO, VIDEO), (IMAGE, AUDIO, VIDEO)],
    ids=["image+audio", "audio+video", "all"],
)
def test_audio_with_pictures_only_fits_avatar(
    intents: Mapping[str, IntentSpec], parts: tuple[dict[str, Any], ...]
) -> None:
    assert intents_for(intents, "/v1/chat/completions", chat(*parts)) == ("avatar",)


@pytest.mark.parametrize("endpoint", ["/v1/chat/completions", "/v1/completions"])
def test_text_only_is_agent_first_then_tts_then_avatar(
    intents: Mapping[str, IntentSpec], endpoint: str
) -> None:
    body = chat() if endpoint == "/v1/chat/completions" else {"prompt": "hello"}
    found = candidates(intents, extract(endpoint, body))
    assert found.intents == ("agent", "tts", "avatar")
    assert found.reason == "inputs text"


def test_image_without_text_still_has_candidates(intents: Mapping[str, IntentSpec]) -> None:
    found = candidates(intents, extract("/v1/chat/completions", chat(IMAGE, text="")))
    assert found.intents == ("multimodal", "avatar")
    assert found.reason == "inputs image"


def test_empty_chat_is_treated_as_text(intents: Mapping[str, IntentSpec]) -> None:
    body = {"messages": [{"role": "user", "content": ""}]}
    assert intents_for(intents, "/v1/chat/completions", body) == ("agent", "tts", "avatar")


def test_config_order_breaks_ties_between_equally_specific_intents() -> None:
    config = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {"r": ["a"]},
            "classifier": {
                "default_intents": False,
                "default": "wide",
                "intents": {
                    "wide": {"route": "r", "accepts": ["text", "image"]},
                    "second": {"route": "r"},
                    "first": {"route": "r"},
                },
            },
        }
    )
    found = candidates(config.classifier.intents, extract("/v1/completions", {"prompt": "x"}))
    assert found.intents == ("second", "first", "wide")


def test_nothing_fits_gives_no_candidates() -> None:
    config = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {"agent": ["a"]},
            "classifier": {"default_intents": False, "intents": {"agent": {}}},
        }
    )
    found = candidates(config.classifier.intents, extract("/v1/chat/completions", chat(IMAGE)))
    assert found.intents == ()
