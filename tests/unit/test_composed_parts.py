"""The pure parts of composed answers: the options a spoken answer takes (OpenAI's chat audio),
audio and video parts read from a request, frames cut from a video, and bodies rendered for
each server of a chain."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from harness.media import mp4
from modelyard_config.limits import Limits
from modelyard_config.proxy import SpokenAnswers
from proxy import chat_audio
from proxy.bodies import FormBody, JsonBody, Upload
from proxy.compose import read_audio
from proxy.content_parts import audio_format, image_part
from proxy.errors import BadRequestError
from proxy.frames import sample_frames
from proxy.media_urls import MediaReader

AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}


def test_spoken_answer_options_default_and_map_pcm16() -> None:
    rule = SpokenAnswers(voice="nova", format="mp3")
    assert chat_audio.options({}, rule) == ("nova", "mp3")
    given = {"audio": {"voice": "alloy", "format": "pcm16"}}
    assert chat_audio.options(given, rule) == ("alloy", "pcm")
    with pytest.raises(BadRequestError) as caught:
        chat_audio.options({"audio": {"format": "aiff"}}, rule)
    assert caught.value.param == "audio.format"


async def test_a_spoken_answer_streams_transcript_then_audio_then_expiry() -> None:
    completion = {"id": "c1", "created": 1, "model": "m", "choices": [{"finish_reason": "stop"}]}
    data = bytes(range(256)) * 500  # three deltas
    audio = chat_audio.message_audio(data, "hello")
    events = [e async for e in chat_audio.events(completion, audio, data)]
    assert events[-1] == b"data: [DONE]\n\n"
    deltas = [json.loads(e[6:])["choices"][0]["delta"] for e in events[:-1]]
    assert deltas[0]["audio"]["transcript"] == "hello" and deltas[0]["role"] == "assistant"
    pieces = b"".join(base64.b64decode(d["audio"]["data"]) for d in deltas[1:-1])
    assert pieces == data and len(deltas) == 2 + -(-len(data) // chat_audio.DELTA_BYTES)
    assert deltas[-1]["audio"]["expires_at"] == audio["expires_at"]


@pytest.fixture
async def media() -> AsyncIterator[MediaReader]:
    async with MediaReader(Limits(), allow_private=False) as reader:  # data: URLs: no fetch
        yield reader


async def test_audio_parts_decode_from_input_audio_and_data_urls(media: MediaReader) -> None:
    assert await read_audio(media, AUDIO, "p") == (b"RIFF", "wav")
    url = {"type": "audio_url", "audio_url": {"url": "data:audio/mp3;base64,SUQz"}}
    assert await read_audio(media, url, "p") == (b"ID3", "mp3")
    other = {"type": "audio_url", "audio_url": {"url": "ftp://example.com/a.mp3"}}
    with pytest.raises(BadRequestError) as caught:
        await read_audio(media, other, "messages[0].content[1]")
    assert caught.value.param == "messages[0].content[1].audio_url.url"
    broken = {"type": "input_audio", "input_audio": {"data": "not base64!", "format": "wav"}}
    with pytest.raises(BadRequestError):
        await read_audio(media, broken, "p")


def test_audio_format_comes_from_the_url() -> None:
    assert audio_format("data:audio/ogg;base64,AAAA") == "ogg"
    assert audio_format("https://example.com/calls/a.m4a?sig=1") == "m4a"
    assert audio_format("https://example.com/stream") == "wav"


def test_frames_are_evenly_spaced_pngs_no_larger_than_asked() -> None:
    frames = sample_frames(mp4(frames=16, side=112), 4, "v", Limits(), max_side=56)
    assert len(frames) == 4 and all(f.startswith(b"\x89PNG") for f in frames)
    assert len(set(frames)) == 4  # four different moments, not one frame four times
    width = int.from_bytes(frames[0][16:20], "big")
    assert width == 56


def test_a_short_video_gives_the_frames_it_has() -> None:
    assert len(sample_frames(mp4(frames=2), 8, "v", Limits())) == 2


def test_bytes_that_are_no_video_are_a_400_naming_the_part() -> None:
    with pytest.raises(BadRequestError) as caught:
        sample_frames(b"not a video", 4, "messages[0].content[0]", Limits())
    assert caught.value.param == "messages[0].content[0]"


def test_video_degradation_encodes_frames_as_image_parts() -> None:
    part = image_part(b"\x89PNG")
    expected = "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()
    assert part["image_url"]["url"] == expected


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
