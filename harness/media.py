"""Small images, videos and silent WAVs made on the spot for the multimodal tests, the fuzz
corpus test and bench/smoke_models.py.

PyAV (in the project's venv with the `speech` extra) encodes the images and videos, the
stdlib's `wave` the WAVs, so no sample files are committed and nothing is fetched.
"""

from __future__ import annotations

import base64
import io
import wave

import av
import numpy as np


def png(width: int = 224, height: int = 160) -> bytes:
    """A colour gradient, a PNG of `width` x `height`."""
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, np.full_like(x, 90)], axis=-1)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
    return b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])


def mp4(frames: int = 16, side: int = 112, fps: int = 8) -> bytes:
    """A moving bar over changing colours: `frames` frames of `side` x `side` at `fps`."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            rgb = np.zeros((side, side, 3), np.uint8)
            rgb[:, :, i % 3] = 200
            row = i * side // frames
            rgb[row : row + max(1, side // frames)] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def silent_wav(samples: int = 160, rate: int = 16000) -> bytes:
    """`samples` of 16-bit mono silence at `rate` Hz, as a WAV file."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\0\0" * samples)
    return out.getvalue()
