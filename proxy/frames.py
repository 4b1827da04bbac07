"""Evenly spaced frames of a video as PNG images: what the `video` degradation sends to an
image model when no server in the chain can see video.

PyAV decodes (FFmpeg's libraries in its wheel, no ffmpeg binary needed) and also encodes the
PNGs, so nothing else is needed. One pass over the stream, no seeking: the frame on screen at
each target time is kept, so memory holds at most `count` frames, and a video with fewer
frames than asked gives each of its frames once.
Frames are scaled so their longer side is at most `max_side`: an image model resizes them
anyway, and a 4K frame as a PNG data URL would be tens of megabytes.
"""

from __future__ import annotations

import io

import av
import av.error

from proxy.errors import BadRequestError


def sample_frames(video: bytes, count: int, where: str, max_side: int = 448) -> list[bytes]:
    try:
        with av.open(io.BytesIO(video), mode="r") as container:
            if not container.streams.video:
                raise BadRequestError(f"'{where}' has no video stream.", param=where)
            stream = container.streams.video[0]
            duration = _seconds(container.duration, stream)
            targets = [duration * (i + 0.5) / count for i in range(count)]
            kept: list[av.VideoFrame] = []
            shown: av.VideoFrame | None = None  # the frame on screen before this one
            target = 0
            for frame in container.decode(stream):
                when = frame.time if frame.time is not None else 0.0
                while target < count and when > targets[target]:
                    _keep(kept, shown or frame)  # on screen at the target time
                    target += 1
                if target == count:
                    break
                shown = frame
            if target < count and shown is not None:  # targets after the last frame
                _keep(kept, shown)
    except av.error.FFmpegError as exc:
        raise BadRequestError(
            f"'{where}' is not a video that can be decoded: {exc}.", param=where
        ) from exc
    if not kept:
        raise BadRequestError(f"'{where}' has no frames.", param=where)
    return [_png(frame, max_side) for frame in kept]


def _keep(kept: list[av.VideoFrame], frame: av.VideoFrame) -> None:
    if not kept or kept[-1] is not frame:  # once, however many targets it covers
        kept.append(frame)


def _seconds(container_duration: int | None, stream: av.video.stream.VideoStream) -> float:
    if container_duration:
        return container_duration / 1_000_000  # FFmpeg's AV_TIME_BASE
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0  # unknown: every target is 0, so the first frames are taken


def _png(frame: av.VideoFrame, max_side: int) -> bytes:
    scale = min(1.0, max_side / max(frame.width, frame.height))
    width, height = max(2, int(frame.width * scale)), max(2, int(frame.height * scale))
    rgb = frame.reformat(width=width, height=height, format="rgb24")
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
    return b"".join(bytes(packet) for packet in [*codec.encode(rgb), *codec.encode(None)])
