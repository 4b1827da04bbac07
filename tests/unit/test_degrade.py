"""The one degradation decision (proxy/degrade.py): when a chat is spoken, transcribed or cut
into frames instead of (or after) its chain, and what `POST /route` says of it."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import Config, parse_config
from modelyard_config.endpoints import CHAT, SPEECH
from proxy.classify.features import extract
from proxy.classify.language import Language
from proxy.degrade import Degradation, decide
from proxy.resolve import parse_model, plan
from proxy.routing import Routed

AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
VIDEO = {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}
SPOKEN = {"audio_out": {"text_with": "agent", "speak_with": "tts"}}


def config(**degrade: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {
                "llm": {"model": "m"},
                "talker": {"model": "t", "capabilities": ["text", "audio_out"]},
                "ear": {"model": "e", "capabilities": ["text", "audio_in"]},
                "stt-sc": {"model": "s", "capabilities": ["transcription"]},
                "tts-sc": {"model": "v", "capabilities": ["speech"]},
            },
            "routes": {
                "agent": ["llm"],
                "stt": ["stt-sc"],
                "tts": ["tts-sc"],
                "talk": ["talker"],
                "hear": ["ear"],
                "multimodal": ["llm"],
            },
            "proxy": {"degrade": degrade},
        }
    )


def routed(
    cfg: Config, model: str, *parts: dict[str, Any], endpoint: str = CHAT, **extra: Any
) -> Routed:
    content: Any = [*parts, {"type": "text", "text": "hi"}] if parts else "hi"
    body = {"messages": [{"role": "user", "content": content}], "input": "hi", **extra}
    features = extract(endpoint, body)
    chosen = plan(cfg, parse_model(cfg, model), features)
    return Routed(features, chosen, Language("en", "Latn", 1, False), None, 0)


def kind(cfg: Config, request: Routed) -> str | None:
    found = decide(cfg, request)
    return found.kind if found else None


def test_audio_out_is_spoken_only_where_declared_and_no_server_speaks() -> None:
    on, off = config(**SPOKEN), config()
    assert kind(on, routed(on, "agent", modalities=["text", "audio"])) == "speak"
    assert kind(off, routed(off, "agent", modalities=["text", "audio"])) is None
    assert kind(on, routed(on, "agent")) is None  # text asked, text given
    # a server that speaks itself answers directly
    assert kind(on, routed(on, "talk", modalities=["audio"])) is None


def test_an_intent_whose_output_is_audio_is_spoken_even_without_modalities() -> None:
    cfg = config(**SPOKEN)
    assert decide(cfg, routed(cfg, "tts")) == Degradation("speak", False, "audio_out->speech")


def test_degradations_apply_to_chat_with_the_input_they_declare() -> None:
    cfg = config(audio_in={}, video={})
    assert kind(cfg, routed(cfg, "agent", AUDIO)) == "transcribe"
    assert kind(cfg, routed(cfg, "agent")) is None
    assert kind(cfg, routed(cfg, "agent", VIDEO)) == "frames"
    assert kind(config(), routed(config(), "agent", VIDEO)) is None


def test_only_chat_is_degraded() -> None:
    cfg = config(audio_in={}, video={}, **SPOKEN)
    assert decide(cfg, routed(cfg, "tts", endpoint=SPEECH)) is None


def test_a_chain_that_can_take_the_input_is_tried_first() -> None:
    cfg = config(audio_in={})
    hearing = decide(cfg, routed(cfg, "hear", AUDIO))
    assert hearing == Degradation("transcribe", True, "audio_in->transcript")
    deaf = decide(cfg, routed(cfg, "agent", AUDIO))
    assert deaf == Degradation("transcribe", False, "audio_in->transcript")


def test_route_reports_the_degradation_it_would_use() -> None:
    cfg = config(audio_in={}, video={"frames": 3}, **SPOKEN)

    def said(request: Routed) -> str | None:
        found = decide(cfg, request)
        return found.describe() if found else None

    assert said(routed(cfg, "agent", modalities=["audio"])) == "audio_out->speech"
    assert said(routed(cfg, "agent", AUDIO)) == "audio_in->transcript"
    assert said(routed(cfg, "agent", VIDEO)) == "video->frames:3"
    assert said(routed(cfg, "agent")) is None
    assert said(routed(cfg, "hear", AUDIO)) == "audio_in->transcript if every candidate fails"


def test_degradation_routes_must_exist() -> None:
    with pytest.raises(Exception) as caught:
        config(audio_in={"transcribe_with": "nowhere"})
    assert "proxy.degrade.audio_in.transcribe_with" in str(caught.value)
