"""A client's video is decoded within `proxy.limits` (the hardening issue): a stream over
`video_max_side` is refused from its header before any frame is decoded, even one declaring
16000x16000; decoding stops with a 413 after `video_frames` frames or `video_decode_seconds`
of wall clock (a fake clock here); and it runs on the proxy's own decode threads, so a
default thread pool that is busy (DNS lookups, the embedder) does not hold it up.

Videos are made on the spot with PyAV, a few frames of 32 to 256 pixels.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import av
import pytest

from harness.media import mp4
from modelyard_config.limits import Limits
from proxy.errors import BadRequestError, PayloadTooLargeError
from proxy.frames import FramePool, sample_frames

WHERE = "messages[0].content[1]"


def declaring(side: int) -> bytes:
    """One black FFV1 frame of 256x256 in Matroska, with the track header rewritten to claim
    `side` x `side`: FFV1 keeps no size of its own, so the header is what FFmpeg goes by (an
    honest 16384x16384 frame is past what FFmpeg will even allocate, and a 16000x16000 one
    takes seconds and gigabytes to encode)."""
    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=1)
        stream.width = stream.height = 256
        stream.pix_fmt = "yuv420p"
        frame = av.VideoFrame(256, 256, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    data = out.getvalue()
    # Matroska PixelWidth (0xB0) and PixelHeight (0xBA), each a 2-byte unsigned 256
    for element in (b"\xb0\x82\x01\x00", b"\xba\x82\x01\x00"):
        assert data.count(element) == 1
        data = data.replace(element, element[:2] + side.to_bytes(2, "big"))
    return data


def never_called() -> float:
    raise AssertionError("decoding started")


def test_a_video_over_the_side_limit_is_refused_before_any_frame_is_decoded() -> None:
    limits = Limits(video_max_side=64)
    with pytest.raises(PayloadTooLargeError) as caught:
        sample_frames(mp4(frames=4, side=112), 4, WHERE, limits, clock=never_called)
    assert caught.value.param == WHERE and caught.value.status == 413
    assert "112x112" in caught.value.message
    assert "proxy.limits.video_max_side" in caught.value.message
    assert len(sample_frames(mp4(frames=4, side=64), 2, WHERE, limits)) == 2


def test_a_video_declaring_16k_a_side_is_refused_before_decoding() -> None:
    # the probe's decoder is given the ceiling too, so it refuses the frame and no size is
    # read: a 4xx before decoding, never a 16k x 16k frame in memory
    with pytest.raises(BadRequestError) as caught:
        sample_frames(declaring(16000), 4, WHERE, Limits(), clock=never_called)
    assert caught.value.status in (400, 413) and caught.value.param == WHERE
    assert "proxy.limits.video_max_side" in caught.value.message
    # 16384 a side is past FFmpeg's own ceiling: it reads no size, and the decoder, told
    # max_pixels, will not open; a 400 either way, never a frame
    with pytest.raises(BadRequestError) as refused:
        sample_frames(declaring(16384), 4, WHERE, Limits())
    assert refused.value.param == WHERE and refused.value.status == 400
    # the same file declaring its true size decodes: the refusal was the header's doing
    assert len(sample_frames(declaring(256), 1, WHERE, Limits())) == 1


def test_decoding_stops_after_the_frame_limit() -> None:
    video = mp4(frames=40, side=32)  # the last of 4 targets is near frame 35
    with pytest.raises(PayloadTooLargeError) as caught:
        sample_frames(video, 4, WHERE, Limits(video_frames=10))
    assert "proxy.limits.video_frames" in caught.value.message and caught.value.param == WHERE
    assert len(sample_frames(video, 4, WHERE, Limits(video_frames=40))) == 4


def ticking(step: float) -> Iterator[float]:
    now = 0.0
    while True:
        yield now
        now += step


def test_decoding_stops_when_its_wall_clock_passes_the_limit() -> None:
    video = mp4(frames=16, side=32)
    clock = ticking(1.0)  # a second per frame decoded
    with pytest.raises(PayloadTooLargeError) as caught:
        sample_frames(video, 4, WHERE, Limits(video_decode_seconds=3.0), clock=clock.__next__)
    assert "proxy.limits.video_decode_seconds" in caught.value.message
    still = ticking(0.0)
    limits = Limits(video_decode_seconds=3.0)
    assert len(sample_frames(video, 4, WHERE, limits, clock=still.__next__)) == 4


async def test_frames_are_cut_on_the_proxys_own_threads_while_the_default_pool_is_busy() -> None:
    loop = asyncio.get_running_loop()
    busy = ThreadPoolExecutor(1)
    loop.set_default_executor(busy)
    release = threading.Event()
    blocked = loop.run_in_executor(None, release.wait)  # the default pool's only thread
    pool = FramePool(Limits(decode_threads=1))
    try:
        async with asyncio.timeout(30):  # a bound, not a synchronisation: it fails the test
            frames = await pool.sample(mp4(frames=8, side=32), 2, WHERE)
        assert len(frames) == 2
        assert not blocked.done()
    finally:
        release.set()
        await blocked
        pool.close()
