"""`make bench-streams`: many streams held open through the proxy at once (issue 14's target:
200 concurrent streams, no errors but the designed 429 or 503).

A real `modelyard up` (the CPU profile on private ports) in front of one upstream that streams
slowly on cue (harness/fake_vllm.py `--stream-delay`: the tiny vLLM would finish each stream in
well under a second, so 200 could never be open together). All streams are opened at once, each
on its own connection, and read to `[DONE]`; while they are open the `modelyard up` process's
RSS, open file descriptors and threads are sampled. Printed: how many streams were open at the
peak, how many completed, how many were refused by design (429/503) and how many failed any
other way, each stream's time to first byte, and the memory and descriptors it took.

    python bench/streams_open.py [--streams 200] [--tokens 40] [--delay 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.stack import Stack, fake_server, running_stack, stack_config

SERVER = "slow-stream"
DESIGNED = frozenset({429, 503})  # refusals the proxy makes on purpose, with Retry-After


@dataclass
class Outcome:
    status: int = 0
    chunks: int = 0
    done: bool = False
    first_byte_s: float | None = None
    error: str = ""
    code: str = ""  # the error body's code, for a refusal


@dataclass
class Tally:
    open_now: int = 0
    peak_open: int = 0
    samples: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, rss, fds, thr


async def one_stream(session: aiohttp.ClientSession, url: str, tally: Tally) -> Outcome:
    body = {
        "model": SERVER,
        "stream": True,
        "messages": [{"role": "user", "content": "count slowly"}],
        "max_tokens": 64,
    }
    out = Outcome()
    began = time.monotonic()
    try:
        async with session.post(url, json=body) as response:
            out.status = response.status
            if response.status != 200:
                try:
                    out.code = str((await response.json(content_type=None))["error"]["code"])
                except (ValueError, KeyError, TypeError, aiohttp.ClientError):
                    out.code = "?"
                return out
            tally.open_now += 1
            tally.peak_open = max(tally.peak_open, tally.open_now)
            try:
                async for line in response.content:
                    if out.first_byte_s is None:
                        out.first_byte_s = time.monotonic() - began
                    text = line.decode().strip()
                    if text == "data: [DONE]":
                        out.done = True
                    elif text.startswith("data: "):
                        out.chunks += 1
            finally:
                tally.open_now -= 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    return out


def sample(pid: int, tally: Tally, stop: threading.Event) -> None:
    """RSS, open descriptors and threads of the `modelyard up` process (proxy and supervisor)."""
    proc = psutil.Process(pid)
    began = time.monotonic()
    while not stop.is_set():
        try:
            tally.samples.append(
                (
                    time.monotonic() - began,
                    proc.memory_info().rss,
                    proc.num_fds(),
                    proc.num_threads(),
                )
            )
        except psutil.Error:
            return
        stop.wait(0.2)


async def run(stack: Stack, streams: int) -> tuple[list[Outcome], float]:
    url = stack.proxy_url + "/v1/chat/completions"
    tally = TALLY
    # one connection per stream: a pool would queue them behind each other
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        began = time.monotonic()
        outcomes = await asyncio.gather(*(one_stream(session, url, tally) for _ in range(streams)))
    return list(outcomes), time.monotonic() - began


TALLY = Tally()


def report(outcomes: list[Outcome], wall: float, tokens: int, delay: float) -> int:
    completed = [o for o in outcomes if o.status == 200 and o.done and o.chunks >= tokens]
    designed = [o for o in outcomes if o.status in DESIGNED]
    failed = [o for o in outcomes if o not in completed and o not in designed]
    first = sorted(o.first_byte_s for o in completed if o.first_byte_s is not None)
    rss = [s[1] for s in TALLY.samples]
    fds = [s[2] for s in TALLY.samples]
    threads = [s[3] for s in TALLY.samples]
    mib = 2**20
    print(f"\n{len(outcomes)} streams of {tokens} chunks, {delay:g} s apart, opened at once")
    print(f"  open at the same time (peak):    {TALLY.peak_open}")
    print(f"  completed to [DONE]:             {len(completed)}")
    print(f"  refused by design (429/503):     {len(designed)}")
    print(f"  failed otherwise:                {len(failed)}")
    if first:
        p99 = first[min(len(first) - 1, int(len(first) * 0.99))]
        print(
            f"  time to first byte p50 / p99:    {statistics.median(first) * 1000:.1f} / "
            f"{p99 * 1000:.1f} ms"
        )
    print(
        f"  wall time for all:               {wall:.1f} s "
        f"(one stream alone: {tokens * delay:.1f} s)"
    )
    if rss:
        print(
            f"  modelyard up RSS before / peak / after: {rss[0] / mib:.0f} / "
            f"{max(rss) / mib:.0f} / {rss[-1] / mib:.0f} MiB"
        )
        print(f"  open descriptors before / peak / after: {fds[0]} / {max(fds)} / {fds[-1]}")
        print(
            f"  threads before / peak / after:          {threads[0]} / {max(threads)} / "
            f"{threads[-1]}"
        )
    refusals: dict[tuple[int, str], int] = {}
    for o in designed:
        refusals[(o.status, o.code)] = refusals.get((o.status, o.code), 0) + 1
    for (status, code), count in sorted(refusals.items()):
        print(f"    {count} x {status} {code}")
    for o in failed[:5]:
        print(f"  e.g. status {o.status}, {o.chunks} chunks, done={o.done}: {o.error}")
    return 0 if not failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.25)
    args = parser.parse_args()
    server = fake_server(
        "--stream-delay",
        str(args.delay),
        "--stream-tokens",
        str(args.tokens),
        "--keep-alive",
        gpu_memory_gb=0.1,
    )
    with tempfile.TemporaryDirectory(prefix="modelyard-streams-") as tmp:
        config = stack_config(Path(tmp) / "state", extra_servers={SERVER: server})
        with running_stack(Path(tmp), config) as stack:
            httpx.post(f"{stack.admin_url}/servers/{SERVER}/ensure", timeout=120).raise_for_status()
            stop = threading.Event()
            sampler = threading.Thread(target=sample, args=(stack.proc.pid, TALLY, stop))
            sampler.start()
            time.sleep(1.0)  # a baseline of samples before the streams open
            try:
                outcomes, wall = asyncio.run(run(stack, args.streams))
                time.sleep(1.0)  # and after they close: what is released
            finally:
                stop.set()
                sampler.join()
    return report(outcomes, wall, args.tokens, args.delay)


if __name__ == "__main__":
    sys.exit(main())
