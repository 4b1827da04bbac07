"""The pure parts of composed answers: when a chat is spoken or degraded, the options a
spoken answer takes, audio and video parts read from a request, frames cut from a video, and
bodies rendered for each server of a chain."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from modelyard_config import Config, parse_config
from modelyard_config.endpoints import CHAT
from modelyard_config.proxy import SpokenAnswers
from proxy.bodies import FormBody, JsonBody, Upload
from proxy.classify.features import extract
from proxy.classify.language import Language
from proxy.compose import (
    Composer,
    _audio_format,
    _audio_options,
    may_transcribe,
    may_use_frames,
    wants_spoken_answer,
)
from proxy.errors import BadRequestError
from proxy.frames import sample_frames
from proxy.resolve import parse_model, plan
from proxy.routing import Routed
from harness.media import mp4

AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
VIDEO = {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}


def config(**degrade: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {
                "llm": {"model": "m"},
                "talker": {"model": "t", "capabilities": ["text", "audio_out"]},
                "stt-sc": {"model": "s", "capabilities": ["transcription"]},
                "tts-sc": {"model": "v", "capabilities": ["speech"]},
            },
            "routes": {
                "agent": ["llm"],
                "stt": ["stt-sc"],
                "tts": ["tts-sc"],
                "talk": ["talker"],
                "multimodal": ["llm"],
            },
            "proxy": {"degrade": degrade},
        }
    )


def routed(cfg: Config, model: str, *parts: dict[str, Any], **extra: Any) -> Routed:
    content: Any = [*parts, {"type": "text", "text": "hi"}] if parts else "hi"
    body = {"messages": [{"role": "user", "content": content}], **extra}
    features = extract(CHAT, body)
    return Routed(
        features,
        plan(cfg, parse_model(cfg, model), features),
        Language("en", "Latn", 1, False),
        None,
        0,
    )


SPOKEN = {"audio_out": {"text_with": "agent", "speak_with": "tts"}}


def test_audio_out_is_spoken_only_where_declared_and_no_server_speaks() -> None:
    on, off = config(**SPOKEN), config()
    assert wants_spoken_answer(on, routed(on, "agent", modalities=["text", "audio"]))
    assert not wants_spoken_answer(off, routed(off, "agent", modalities=["text", "audio"]))
    assert not wants_spoken_answer(on, routed(on, "agent"))  # text asked, text given
    # a server that speaks itself answers directly
    assert not wants_spoken_answer(on, routed(on, "talk", modalities=["audio"]))


def test_an_intent_whose_output_is_audio_is_spoken_even_without_modalities() -> None:
    cfg = config(**SPOKEN)
    assert wants_spoken_answer(cfg, routed(cfg, "tts"))


def test_degradations_apply_to_chat_with_the_input_they_declare() -> None:
    cfg = config(audio_in={}, video={})
    assert may_transcribe(cfg, routed(cfg, "agent", AUDIO))
    assert not may_transcribe(cfg, routed(cfg, "agent"))
    assert may_use_frames(cfg, routed(cfg, "agent", VIDEO))
    assert not may_use_frames(config(), routed(config(), "agent", VIDEO))


def test_degradation_routes_must_exist() -> None:
    with pytest.raises(Exception) as caught:
        config(audio_in={"transcribe_with": "nowhere"})
    assert "proxy.degrade.audio_in.transcribe_with" in str(caught.value)


def test_spoken_answer_options_default_and_map_pcm16() -> None:
    rule = SpokenAnswers(voice="nova", format="mp3")
    assert _audio_options({}, rule) == ("nova", "mp3")
    assert _audio_options({"audio": {"voice": "alloy", "format": "pcm16"}}, rule) == (
        "alloy",
        "pcm",
    )
    with pytest.raises(BadRequestError) as caught:
        _audio_options({"audio": {"format": "aiff"}}, rule)
    assert caught.value.param == "audio.format"


async def test_audio_parts_decode_from_input_audio_and_data_urls() -> None:
    offline = SimpleNamespace(session=None)  # these parts need no network
    composer = Composer(config(), offline, None)  # type: ignore[arg-type]
    assert await composer._audio(AUDIO, "p") == (b"RIFF", "wav")
    url = {"type": "audio_url", "audio_url": {"url": "data:audio/mp3;base64,SUQz"}}
    assert await composer._audio(url, "p") == (b"ID3", "mp3")
    other = {"type": "audio_url", "audio_url": {"url": "ftp://example.com/a.mp3"}}
    with pytest.raises(BadRequestError) as caught:
        await composer._audio(other, "messages[0].content[1]")
    assert caught.value.param == "messages[0].content[1].audio_url.url"
    broken = {"type": "input_audio", "input_audio": {"data": "not base64!", "format": "wav"}}
    with pytest.raises(BadRequestError):
        await composer._audio(broken, "p")


def test_audio_format_comes_from_the_url() -> None:
    assert _audio_format("data:audio/ogg;base64,AAAA") == "ogg"
    assert _audio_format("https://example.com/calls/a.m4a?sig=1") == "m4a"
    assert _audio_format("https://example.com/stream") == "wav"


def test_frames_are_evenly_spaced_pngs_no_larger_than_asked() -> None:
    frames = sample_frames(mp4(frames=16, side=112), 4, "v", max_side=56)
    assert len(frames) == 4 and all(f.startswith(b"\x89PNG") for f in frames)
    assert len(set(frames)) == 4  # four different moments, not one frame four times
    width = int.from_bytes(frames[0][16:20], "big")
    assert width == 56


def test_a_short_video_gives_the_frames_it_has() -> None:
    assert len(sample_frames(mp4(frames=2), 8, "v")) == 2


def test_bytes_that_are_no_video_are_a_400_naming_the_part() -> None:
    with pytest.raises(BadRequestError) as caught:
        sample_frames(b"not a video", 4, "messages[0].content[0]")
    assert caught.value.param == "messages[0].content[0]"


def test_json_body_renders_each_servers_name() -> None:
    body = JsonBody({"model": "auto", "input": "x"})
    assert body.render("tts-1").data == b'{"model": "tts-1", "input": "x"}'


def test_form_body_replaces_model_and_keeps_the_file() -> None:
    body = FormBody(
        (("model", "whisper-1"), ("language", "hi")),
        (Upload("file", "a.wav", "audio/wav", b"RIFF"),),
    )
    assert body.field("language") == "hi" and body.field("model") == "whisper-1"
    rendered = body.render("base")
    assert rendered.content_type is None and isinstance(rendered.data, aiohttp.FormData)
    first, second = body.render("base"), body.render("large")
    assert first.data is not second.data  # a fresh form per attempt: aiohttp sends one once
    fields = [(f[0]["name"], f[2]) for f in rendered.data._fields]
    assert fields == [("model", "base"), ("language", "hi"), ("file", b"RIFF")]


def test_video_degradation_encodes_frames_as_image_parts() -> None:
    from proxy.compose import _image_part

    part = _image_part(b"\x89PNG")
    assert (
        part["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    )


def test_route_reports_the_degradation_it_would_use() -> None:
    from proxy.compose import degradation

    cfg = config(audio_in={}, video={"frames": 3}, **SPOKEN)
    assert degradation(cfg, routed(cfg, "agent", modalities=["audio"])) == "audio_out->speech"
    assert degradation(cfg, routed(cfg, "agent", AUDIO)) == "audio_in->transcript"
    assert degradation(cfg, routed(cfg, "agent", VIDEO)) == "video->frames:3"
    assert degradation(cfg, routed(cfg, "agent")) is None
    hearing = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"ear": {"model": "e", "capabilities": ["text", "audio_in"]}},
            "routes": {"agent": ["ear"], "stt": ["ear"]},
            "proxy": {"degrade": {"audio_in": {}}},
        }
    )
    said = degradation(hearing, routed(hearing, "agent", AUDIO))
    assert said == "audio_in->transcript if every candidate fails"
