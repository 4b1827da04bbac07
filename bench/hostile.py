"""`make bench-hostile`: what hostile inputs cost the proxy. Each must be refused with a 4xx
within a second of crossing its limit, while the proxy's RSS stays under 300 MB:

- a 2 GB chat body (sent chunked, no Content-Length, so only counting can stop it);
- a 50 GB chunked audio upload;
- a FLAC of 40 hours of 8 kHz silence (a few MB on the wire, 8.6 GiB as float32 samples),
  sent to the STT sidecar through the proxy;
- a 16000x16000 video, which the proxy itself would decode for the `video` degradation.

Starts its own `modelyard up` (the CPU profile on private ports, plus one fake image-only
server so a video must be degraded to frames). Bodies are written by a raw socket client that
keeps sending while it watches for the answer, so "time after the limit" is the time from the
byte that crossed it to the status line, not a client's buffered view of it. The proxy's RSS
(the `modelyard up` process: proxy and supervisor) is sampled every 20 ms throughout.

    python bench/hostile.py
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.stack import Stack, fake_server, running_stack, stack_config
from modelyard_config.limits import Limits
from supervisor import paths

CHUNK = 1 << 20
LIMITS = Limits()


@dataclass
class Outcome:
    name: str
    status: int
    sent_mb: float
    after_limit_s: float  # from crossing the limit (or sending the request) to the status line
    detail: str
    peak_rss: int = 0  # the proxy's, while this input was handled


class RssWatch:
    """Peak RSS of one process, sampled on a thread while a block runs."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def stream_until_answer(
    port: int, path: str, content_type: str, total: int, limit: int, chunks: Iterator[bytes]
) -> tuple[int, float, float, str]:
    """Send a chunked body of up to `total` bytes; stop at the first byte of the answer.
    Returns (status, MB sent, seconds from crossing `limit` to the answer, body start)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: {content_type}\r\n"
        "transfer-encoding: chunked\r\n\r\n"
    )
    writer.write(head.encode())
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    sent, crossed = 0, 0.0
    try:
        for chunk in chunks:
            if answer.done() or sent >= total:
                break
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            if not crossed and sent > limit:
                crossed = time.perf_counter()
            await writer.drain()
            await asyncio.sleep(0)  # let the reader see an answer: drain() may not yield
    except (ConnectionError, OSError):
        pass  # the proxy answered and closed: read what it said
    head_bytes = await asyncio.wait_for(answer, 30)
    got = time.perf_counter()
    status = int(head_bytes.split(b" ", 2)[1])
    body = await asyncio.wait_for(reader.read(400), 5)
    writer.close()
    return status, sent / 2**20, got - (crossed or got), body.decode(errors="replace")


def filler(prefix: bytes) -> Iterator[bytes]:
    yield prefix
    block = b"A" * CHUNK
    while True:
        yield block


def huge_chat(port: int) -> Outcome:
    prefix = b'{"model": "auto", "messages": [{"role": "user", "content": "'
    status, mb, after, body = asyncio.run(
        stream_until_answer(
            port,
            "/v1/chat/completions",
            "application/json",
            2 * 2**30,
            LIMITS.json_body_bytes,
            filler(prefix),
        )
    )
    return Outcome("2 GB chat body", status, mb, after, body)


def huge_upload(port: int) -> Outcome:
    boundary = "hostileboundary"
    prefix = (
        f'--{boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        f'--{boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.wav"\r\n'
        "content-type: audio/wav\r\n\r\n"
    ).encode()
    status, mb, after, body = asyncio.run(
        stream_until_answer(
            port,
            "/v1/audio/transcriptions",
            f"multipart/form-data; boundary={boundary}",
            50 * 2**30,
            LIMITS.upload_bytes,
            filler(prefix),
        )
    )
    return Outcome("50 GB chunked upload", status, mb, after, body)


def silent_flac(path: Path, hours: float, rate: int = 8000) -> None:
    """Hours of 8 kHz silence as FLAC: large blocks keep the encoding quick and the file small."""
    with av.open(str(path), "w", format="flac") as out:
        # FLAC's largest blocks: a block of silence costs a few bytes whatever its length
        stream = out.add_stream("flac", rate=rate, layout="mono", options={"frame_size": "65535"})
        block = np.zeros((1, rate * 60), dtype=np.int16)  # a minute per frame
        for minute in range(int(hours * 60)):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = minute * rate * 60
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def long_flac(stack: Stack) -> Outcome:
    cache = paths.home() / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    flac = cache / "silence-40h-8k.flac"
    if not flac.exists():
        print("making a 40-hour FLAC of silence (once; cached in ~/.cache/modelyard/bench)")
        silent_flac(flac, 40)
    url = stack.proxy_url + "/v1/audio/transcriptions"
    data = flac.read_bytes()
    files = {"file": ("silence.flac", data, "audio/flac")}
    started = time.perf_counter()
    answer = httpx.post(url, data={"model": "stt-sidecar"}, files=files, timeout=600)
    took = time.perf_counter() - started
    return Outcome(
        f"40-hour FLAC ({len(data) / 2**20:.1f} MB)",
        answer.status_code,
        len(data) / 2**20,
        took,
        answer.text[:300],
    )


# 16k x 16k: FFmpeg refuses pictures with (w+128)*(h+128) >= INT_MAX/8, so 16384 cannot be made
SIDE = 16000


def huge_video() -> bytes:
    """Two black frames of a 16000x16000 H.264 video (x264 takes that size; FFmpeg's MJPEG
    and MPEG-4 encoders do not): 55 kB on the wire, 384 MB per decoded frame."""
    out_buf = io.BytesIO()
    with av.open(out_buf, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=1)
        stream.width = stream.height = SIDE
        stream.pix_fmt = "yuv420p"
        black = av.VideoFrame(SIDE, SIDE, "yuv420p")
        for plane in black.planes:
            plane.update(bytes(plane.buffer_size))
        for i in range(2):
            black.pts, black.time_base = i, Fraction(1, 1)
            for packet in stream.encode(black):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return out_buf.getvalue()


def big_video(stack: Stack) -> Outcome:
    video = huge_video()
    url = "data:video/x-matroska;base64," + base64.b64encode(video).decode()
    content = [
        {"type": "text", "text": "what happens in this video?"},
        {"type": "video_url", "video_url": {"url": url}},
    ]
    body = {"model": "eyes", "messages": [{"role": "user", "content": content}]}
    started = time.perf_counter()
    answer = httpx.post(stack.proxy_url + "/v1/chat/completions", json=body, timeout=600)
    took = time.perf_counter() - started
    return Outcome(
        f"{SIDE}x{SIDE} video ({len(video) / 2**20:.1f} MB)",
        answer.status_code,
        len(video) / 2**20,
        took,
        answer.text[:300],
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        extra = {"eyes": fake_server(gpu_memory_gb=0.1, capabilities=["text", "image"])}
        config = stack_config(tmp / "state", extra)
        config["routes"]["seeing"] = ["eyes"]
        config["proxy"]["degrade"]["video"] = {"frames": 4, "answer_with": "seeing"}
        with running_stack(tmp, config) as stack:
            port = config["proxy"]["port"]
            # the sidecar starts on first use: start it now, so the FLAC times decoding only
            httpx.post(
                stack.admin_url + "/servers/stt-sidecar/ensure", timeout=300
            ).raise_for_status()
            watch = RssWatch(stack.proc.pid)
            before = watch.peak
            outcomes = []
            with watch:
                for run in (
                    lambda: huge_chat(port),
                    lambda: huge_upload(port),
                    lambda: long_flac(stack),
                    lambda: big_video(stack),
                ):
                    watch.peak = watch.proc.memory_info().rss
                    outcome = run()
                    outcome.peak_rss = watch.peak
                    outcomes.append(outcome)
            after = watch.proc.memory_info().rss
    print(
        f"\nproxy+supervisor RSS: {before / 2**20:.0f} MB before, peak {watch.peak / 2**20:.0f}"
        f" MB, {after / 2**20:.0f} MB after\n"
    )
    print(f"{'input':34} {'status':>6} {'sent MB':>8} {'4xx after':>10} {'peak RSS':>9}  error")
    for o in outcomes:
        try:
            message = json.loads(o.detail[o.detail.index("{") :])["error"]["code"]
        except (ValueError, KeyError, TypeError):
            message = o.detail[:80].replace("\n", " ")
        print(
            f"{o.name:34} {o.status:>6} {o.sent_mb:>8.1f} {o.after_limit_s:>9.3f}s "
            f"{o.peak_rss / 2**20:>6.0f} MB  {message}"
        )
    print(
        "\n'4xx after': from the byte that crossed the limit (bodies) or from sending the "
        "request (FLAC, video: the limit is crossed while decoding) to the status line."
    )


if __name__ == "__main__":
    main()
