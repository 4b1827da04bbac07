"""The STT sidecar decodes an upload within `max_audio_seconds` (the hardening issue): 25 MB of
FLAC silence at 8 kHz is 40 hours, 8.6 GiB of float32 samples, so bytes alone bound nothing.
A duration the container declares over the limit is refused before decoding; one that is not
declared (or lies) is refused while decoding, as soon as the samples cross the limit. Either
is a 413 `audio_too_long` in OpenAI's shape.

FLAC silence is made on the spot with PyAV: a few seconds at 8 kHz, a few kilobytes.
"""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from sidecars.stt import audio
from sidecars.stt.__main__ import parse_args
from sidecars.stt.errors import AudioTooLongError

RATE = 8000


def flac_silence(seconds: int) -> bytes:
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=RATE, layout="mono", format="s16")
        block = 4000
        for i in range(seconds * RATE // block):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, block), np.int16), format="s16", layout="mono"
            )
            frame.rate, frame.pts = RATE, i * block
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def undeclared(flac: bytes) -> bytes:
    """The same FLAC with STREAMINFO's total-samples field zeroed ("unknown", as a streamed
    encoder writes it), so only decoding can tell how long it is."""
    assert flac[:4] == b"fLaC"
    data = bytearray(flac)
    # STREAMINFO starts at byte 8; its total samples are the low 36 bits of bytes 13..17
    data[8 + 13] &= 0xF0
    data[8 + 14 : 8 + 18] = bytes(4)
    return bytes(data)


def test_audio_declared_longer_than_the_limit_is_a_413_before_decoding() -> None:
    with pytest.raises(AudioTooLongError) as caught:
        audio.decode(flac_silence(5), "call.flac", max_seconds=2)
    assert caught.value.status == 413 and caught.value.code == "audio_too_long"
    assert caught.value.param == "file" and "declares 5" in caught.value.message


def test_audio_with_no_declared_length_is_refused_as_the_samples_cross_the_limit() -> None:
    silent = undeclared(flac_silence(5))
    with pytest.raises(AudioTooLongError) as caught:
        audio.decode(silent, "call.flac", max_seconds=2)
    assert "max-audio-seconds" in caught.value.message and "declares" not in caught.value.message
    assert audio.duration_s(audio.decode(silent, "call.flac", max_seconds=5)) == 5


def test_audio_within_the_limit_decodes_whole() -> None:
    samples = audio.decode(flac_silence(3), "call.flac", max_seconds=3)
    assert samples.size == 3 * audio.SAMPLE_RATE


def test_the_limit_is_a_flag_defaulting_to_two_hours() -> None:
    assert parse_args([]).max_audio_seconds == 7200
    assert parse_args(["--max-audio-seconds", "60"]).max_audio_seconds == 60
