"""Turn an uploaded file into the 16 kHz mono float32 samples Whisper expects.

PyAV bundles its own FFmpeg (8.1 in av 18.1), so wav, mp3, ogg (Opus, Vorbis), webm and m4a
decode with no system ffmpeg installed. Every PyAV failure is translated here, once, into
UnreadableAudioError: a bad upload is the client's 400, never the server's 500.

Bytes bound nothing here: 25 MB of FLAC silence at 8 kHz is 40 hours, 8.6 GiB of float32. So
an upload is held to `max_audio_seconds`: a duration the container declares over it is
refused before decoding, and the samples are counted as they are decoded and refused as soon
as they cross it (a header can lie or say nothing), so no more than the limit's worth is ever
decoded (joining the chunks into one array doubles that for a moment). Either is
AudioTooLongError, a 413: the same file will never pass, only a shorter one. Measured on the
2-core box, 37 h of silence in 24.6 MiB: refused in 0.66 s from its header, in 26 s (peak RSS
671 MB, the model included) when the header says nothing and 7200 s are decoded first.
"""

from __future__ import annotations

import io
import itertools

import av
import numpy as np
import numpy.typing as npt

from sidecars.stt.errors import AudioTooLongError, UnreadableAudioError
from sidecars.stt.settings import MAX_AUDIO_SECONDS

SAMPLE_RATE = 16_000

Samples = npt.NDArray[np.float32]


def decode(data: bytes, filename: str = "file", max_seconds: float = MAX_AUDIO_SECONDS) -> Samples:
    if not data:
        raise UnreadableAudioError(f"Uploaded file {filename!r} is empty.", param="file")
    try:
        samples = _decode(data, filename, max_seconds)
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


def _decode(data: bytes, filename: str, max_seconds: float) -> Samples | None:
    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        declared = _declared_seconds(container, stream)
        if declared is not None and declared > max_seconds:
            raise _too_long(filename, f"declares {declared:.0f} s of audio, over", max_seconds)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        most = int(max_seconds * SAMPLE_RATE)
        chunks: list[Samples] = []
        held = 0
        for frame in itertools.chain(container.decode(stream), [None]):  # None: flush
            for out in resampler.resample(frame):
                chunk = _plane(out)
                held += chunk.size
                if held > most:
                    raise _too_long(filename, "is longer than", max_seconds)
                chunks.append(chunk)
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks)


def _declared_seconds(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    if container.duration:
        return container.duration / 1_000_000  # FFmpeg's AV_TIME_BASE
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _too_long(filename: str, how: str, max_seconds: float) -> AudioTooLongError:
    return AudioTooLongError(
        f"{filename!r} {how} the {max_seconds:g} s of audio this server decodes "
        "(--max-audio-seconds).",
        param="file",
    )


def _plane(frame: av.AudioFrame) -> Samples:
    # Packed mono float: one plane, shape (1, n).
    return frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
