"""Evenly spaced frames of a video as PNG images: what the `video` degradation sends to an
image model when no server in the chain can see video.

PyAV decodes (FFmpeg's libraries in its wheel, no ffmpeg binary needed) and also encodes the
PNGs, so nothing else is needed. One pass over the stream, no seeking: the frame on screen at
each target time is kept, so memory holds at most `count` frames, and a video with fewer
frames than asked gives each of its frames once.
Frames are scaled so their longer side is at most `max_side`: an image model resizes them
anyway, and a 4K frame as a PNG data URL would be tens of megabytes.

A client's video is bounded by `proxy.limits` before and while it is decoded: a stream wider
or taller than `video_max_side` is refused from its header, before any frame is decoded (and
FFmpeg's `max_pixels` makes the decoder itself refuse a frame far larger than the header
said, before allocating it);
decoding stops with a 413 after `video_frames` frames or `video_decode_seconds` of wall
clock, checked between frames. Decoding runs on FramePool's threads (`decode_threads`), never
in the default pool that DNS lookups and the embedder share.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import av
import av.error

from modelyard_config.limits import Limits
from proxy.errors import BadRequestError, PayloadTooLargeError

Clock = Callable[[], float]


class FramePool:
    """The proxy's video decoding threads; closed at shutdown by their owner (MediaReader)."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._threads = ThreadPoolExecutor(limits.decode_threads, "modelyard-frames")

    async def sample(self, video: bytes, count: int, where: str) -> list[bytes]:
        work = partial(sample_frames, video, count, where, self._limits)
        return await asyncio.get_running_loop().run_in_executor(self._threads, work)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


def sample_frames(
    video: bytes,
    count: int,
    where: str,
    limits: Limits,
    max_side: int = 448,
    clock: Clock = time.monotonic,
) -> list[bytes]:
    try:
        # Opening probes the streams, and the probe decodes a frame: with the ceiling given
        # here too (each stream's probe takes the open's options), a 16k x 16k header costs
        # 0.1 s and ~0 MB instead of 1 s and 500 MB before _check_size could see it. Formats
        # that name no stream before probing (MPEG-TS) are bounded only by FFmpeg's own limit.
        ceiling = {"max_pixels": str(_max_pixels(limits))}
        with av.open(io.BytesIO(video), mode="r", options=ceiling) as container:
            if not container.streams.video:
                raise BadRequestError(f"'{where}' has no video stream.", param=where)
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if not width or not height:  # the probe refused its frame (max_pixels) or failed
                raise BadRequestError(
                    f"'{where}': the video's picture size cannot be read (a picture over "
                    f"{limits.video_max_side} pixels a side, proxy.limits.video_max_side, "
                    "is not probed).",
                    param=where,
                )
            _check_size(width, height, where, limits)
            stream.codec_context.options = {"max_pixels": str(_max_pixels(limits))}
            duration = _seconds(container.duration, stream)
            targets = [duration * (i + 0.5) / count for i in range(count)]
            kept: list[av.VideoFrame] = []
            shown: av.VideoFrame | None = None  # the frame on screen before this one
            target = 0
            bound = _Bound(where, limits, clock)
            for frame in container.decode(stream):
                bound.check(frame)
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


class _Bound:
    """The frames decoded so far and the wall clock they took, against the limits."""

    def __init__(self, where: str, limits: Limits, clock: Clock) -> None:
        self._where, self._limits, self._clock = where, limits, clock
        self._started = clock()
        self._decoded = 0

    def check(self, frame: av.VideoFrame) -> None:
        limits, where = self._limits, self._where
        self._decoded += 1
        _check_size(frame.width, frame.height, where, limits)
        if self._decoded > limits.video_frames:
            raise PayloadTooLargeError(
                f"'{where}' needs more than {limits.video_frames} frames decoded "
                "(proxy.limits.video_frames).",
                param=where,
            )
        if self._clock() - self._started > limits.video_decode_seconds:
            raise PayloadTooLargeError(
                f"'{where}' takes more than {limits.video_decode_seconds:g} s to decode "
                "(proxy.limits.video_decode_seconds).",
                param=where,
            )


def _check_size(width: int, height: int, where: str, limits: Limits) -> None:
    if max(width, height) > limits.video_max_side:
        raise PayloadTooLargeError(
            f"'{where}' is {width}x{height}, over {limits.video_max_side} pixels a side "
            "(proxy.limits.video_max_side).",
            param=where,
        )


def _max_pixels(limits: Limits) -> int:
    """The decoder's own ceiling: a frame over it is never allocated, whatever the header
    said. Loose on purpose, since decoders ask for padding (mpeg4 at 64x64 needs ~4x the
    frame's pixels); the exact bound is _check_size on every frame."""
    return (2 * limits.video_max_side + 256) ** 2


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
