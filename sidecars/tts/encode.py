"""PCM to the response format a client asked for.

wav and pcm are written here with the stdlib. mp3, opus and flac go through PyAV, whose wheel
bundles FFmpeg with libmp3lame, libopus and the native FLAC encoder, so no system ffmpeg is
needed. Opus only runs at 8/12/16/24/48 kHz, so it is resampled to 48 kHz; PyAV's encoder
resamples and re-frames (1152 samples for mp3, 960 for opus) by itself.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from typing import Literal

import av
import numpy as np

from sidecars.tts.audio import SAMPLE_WIDTH, Audio
from sidecars.tts.errors import EncodeFailedError

# OpenAI also offers aac; not served here, so it gets a 400 naming these.
ResponseFormat = Literal["mp3", "opus", "flac", "wav", "pcm"]

CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}


@dataclass(frozen=True)
class _Codec:
    container: str
    codec: str
    rate: int | None  # None: keep the engine's rate


_CODECS: dict[str, _Codec] = {
    "mp3": _Codec("mp3", "libmp3lame", None),
    "opus": _Codec("ogg", "libopus", 48_000),
    "flac": _Codec("flac", "flac", None),
}


@dataclass(frozen=True)
class Encoded:
    body: bytes
    content_type: str
    sample_rate: int


def encode(audio: Audio, response_format: str) -> Encoded:
    content_type = CONTENT_TYPES[response_format]
    if response_format == "pcm":
        return Encoded(audio.pcm, content_type, audio.sample_rate)
    if response_format == "wav":
        return Encoded(_wav(audio), content_type, audio.sample_rate)
    codec = _CODECS[response_format]
    rate = codec.rate or audio.sample_rate
    try:
        body = _with_pyav(audio, codec, rate)
    except av.FFmpegError as exc:
        raise EncodeFailedError(f"{codec.codec} could not encode the audio: {exc}") from exc
    return Encoded(body, content_type, rate)


def _wav(audio: Audio) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(audio.sample_rate)
        out.writeframes(audio.pcm)
    return buffer.getvalue()


def _with_pyav(audio: Audio, codec: _Codec, rate: int) -> bytes:
    samples = np.frombuffer(audio.pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = audio.sample_rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=codec.container) as container:
        stream = container.add_stream(codec.codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)  # narrows PyAV's union for mypy
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
