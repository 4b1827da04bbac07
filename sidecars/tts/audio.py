"""One utterance as engines hand it over: 16-bit little-endian mono PCM and its sample rate.

Every engine produces this and every encoder consumes it, so formats and engines never meet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

SAMPLE_WIDTH = 2  # bytes: 16-bit signed, little-endian


@dataclass(frozen=True)
class Audio:
    pcm: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH / self.sample_rate


class NotWavError(ValueError):
    """The bytes are not a 16-bit mono PCM WAV stream."""


def from_streamed_wav(data: bytes) -> Audio:
    """Read a WAV written to a pipe, whose RIFF and data sizes are placeholders.

    `espeak-ng --stdout` cannot seek back to fill in the sizes, so it writes 0x7FFFFFFF-ish
    values; the stdlib `wave` module trusts them. Here the data chunk runs to the end instead.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NotWavError("no RIFF/WAVE header")
    offset, sample_rate = 12, 0
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = offset + 8
        if chunk_id == b"fmt ":
            fmt, channels, sample_rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (fmt, channels, bits) != (1, 1, 16):
                raise NotWavError(f"want PCM mono 16-bit, got format {fmt} x{channels} {bits}-bit")
        elif chunk_id == b"data":
            if not sample_rate:
                raise NotWavError("data chunk before fmt chunk")
            pcm = data[body:]
            return Audio(pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH], sample_rate)
        offset = body + size + size % 2
    raise NotWavError("no data chunk")
