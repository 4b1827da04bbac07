"""Turn an uploaded file into the 16 kHz mono float32 samples Whisper expects.

PyAV bundles its own FFmpeg (8.1 in av 18.1), so wav, mp3, ogg (Opus, Vorbis), webm and m4a
decode with no system ffmpeg installed. Every PyAV failure is translated here, once, into
UnreadableAudioError: a bad upload is the client's 400, never the server's 500.
"""

from __future__ import annotations

import io

import av
import numpy as np
import numpy.typing as npt

from sidecars.stt.errors import UnreadableAudioError

SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


def decode(data: bytes, filename: str = "file") -> Samples:
    if not data:
        raise UnreadableAudioError(f"Uploaded file {filename!r} is empty.", param="file")
    try:
        samples = _decode(data)
    except av.FFmpegError as exc:
        raise UnreadableAudioError(
            f"Could not decode {filename!r} as audio ({exc.strerror or exc}). "
            "Supported formats: wav, mp3, ogg, webm, m4a, flac.",
            param="file",
        ) from exc
    if samples is None:
        raise UnreadableAudioError(f"{filename!r} has no audio stream.", param="file")
    if samples.size == 0:
        raise UnreadableAudioError(f"{filename!r} contains no audio samples.", param="file")
    return samples


def duration_s(samples: Samples) -> float:
    return samples.size / SAMPLE_RATE


def _decode(data: bytes) -> Samples | None:
    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks: list[Samples] = []
        for frame in container.decode(stream):
            chunks.extend(_plane(out) for out in resampler.resample(frame))
        chunks.extend(_plane(out) for out in resampler.resample(None))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks)


def _plane(frame: av.AudioFrame) -> Samples:
    # Packed mono float: one plane, shape (1, n).
    return frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
