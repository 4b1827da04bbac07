"""The proxy's hot path under load (issue 14): added latency at 1, 8 and 32 concurrent clients,
CPU per request, RSS and the worst stall, against a real `modelyard up` in front of an upstream
that answers at once (harness/fake_vllm.py --chat-reply ok --keep-alive: it keeps connections
alive, as vLLM's uvicorn does, so the proxy's connection pool is measured as it is in use).

Each concurrency runs in rounds; each round runs every path in a rotating order for
`--seconds`: straight to the upstream, through the proxy (and with `--other PATH` straight to
that checkout's upstream and through its proxy, so a change is compared with the code before
it in one run). The clients are closed-loop: each sends its next request when the last one is
answered, on one keep-alive connection, from pre-built bytes, with no HTTP library: on 2 cores
the load generator shares the machine with the proxy and the upstream, so what it spends is
taken from them, and its own CPU per request is printed too.

Printed per concurrency and path: p50, p99 and max latency, added p50 / p99 (through minus
straight, same concurrency), requests a second, the CPU seconds per 1,000 requests of
`modelyard up`'s process (supervisor and proxy share that process and its event loop, so this
is the whole process's cost), and its RSS at the end. The max is where a stall shows: a
garbage-collection pass, or every request waiting on the supervisor at once.

    python bench/proxy_load.py [--clients 1,8,32] [--seconds 4] [--rounds 3] [--other PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.stack import Stack, fake_server, running_stack, stack_config, wait_for

CHAT = "/v1/chat/completions"
BODY = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
HEADER_END = b"\r\n\r\n"


def request_bytes(host: str, port: int) -> bytes:
    body = json.dumps(BODY).encode()
    head = (
        f"POST {CHAT} HTTP/1.1\r\nhost: {host}:{port}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection that sends one request at a time and reads a
    response framed by content-length (or chunked), with no parsing beyond that."""

    def __init__(self) -> None:
        self.transport: Any = None  # uvloop's transport is no asyncio.Transport subclass
        self.buffer = bytearray()
        self.waiter: asyncio.Future[bytes] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None and not self.waiter.done():
            whole = _whole(self.buffer)
            if whole:
                response = bytes(self.buffer[:whole])
                del self.buffer[:whole]
                self.waiter.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed by the server"))

    async def exchange(self, request: bytes) -> bytes:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return await self.waiter


def _whole(buffer: bytearray) -> int:
    """The length of the first whole response in `buffer`, or 0 while it is incomplete."""
    end = buffer.find(HEADER_END)
    if end < 0:
        return 0
    head = bytes(buffer[:end]).lower()
    start = head.find(b"content-length:")
    if start >= 0:
        stop = head.find(b"\r\n", start)
        length = int(head[start + 15 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        return total if len(buffer) >= total else 0
    tail = buffer.find(b"\r\n0\r\n\r\n", end)
    return tail + 7 if tail >= 0 else 0


def _keeps_alive(response: bytes) -> bool:
    head = response[: response.find(HEADER_END)].lower()
    return head.startswith(b"http/1.1") and b"connection: close" not in head


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)  # ms
    errors: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of the measured process during the phase


async def closed_loop(url: str, clients: int, seconds: float) -> Phase:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = request_bytes(host, port)
    loop = asyncio.get_running_loop()
    phase = Phase()
    deadline = loop.time() + seconds

    async def connect() -> _Connection:
        _, conn = await loop.create_connection(_Connection, host, port)
        return conn

    async def client() -> None:
        conn = await connect()
        try:
            while loop.time() < deadline:
                began = time.perf_counter()
                try:
                    if conn.closed:
                        conn = await connect()
                    response = await conn.exchange(request)
                except ConnectionError:
                    phase.errors += 1
                    conn = await connect()
                    continue
                phase.latencies.append((time.perf_counter() - began) * 1000)
                if not response.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                    phase.errors += 1
                if not _keeps_alive(response):
                    assert conn.transport is not None
                    conn.transport.close()
                    conn = await connect()
        finally:
            if conn.transport is not None:
                conn.transport.close()

    began = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    phase.seconds = time.perf_counter() - began
    return phase


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        times = proc.cpu_times()
        total += times.user + times.system
    return total


@dataclass
class LoadPath:
    name: str
    url: str
    procs: list[psutil.Process]  # the proxy's processes, measured during its phases
    direct: str | None = None  # the straight path this one adds to


def proxy_processes(stack: Stack) -> list[psutil.Process]:
    """`modelyard up` and its proxy workers (proxy.workers), not the servers it started."""
    up = psutil.Process(stack.proc.pid)
    workers = [p for p in up.children() if "--worker" in p.cmdline()]
    return [up, *workers]


def listening(stack: Stack) -> int:
    """How many of the stack's proxy processes listen on its port (a worker does so only once
    its app has started)."""
    port = stack.config["proxy"]["port"]
    return sum(
        any(c.status == "LISTEN" and c.laddr.port == port for c in proc.net_connections())
        for proc in proxy_processes(stack)
    )


@contextlib.contextmanager
def stack_of(
    checkout: Path | None, tmp: Path, keep_alive: bool, workers: int = 1
) -> Iterator[tuple[Stack, str]]:
    """`modelyard up` from `checkout` (None: this one), and the instant upstream's URL."""
    tmp.mkdir(parents=True)
    flags = ["--chat-reply", "ok"] + (["--keep-alive"] if keep_alive else [])
    config = stack_config(tmp / "state", extra_servers={"fast": fake_server(*flags)})
    if workers > 1:
        config["proxy"]["workers"] = workers
    saved = os.environ.get("PYTHONPATH")
    if checkout is not None:  # the child imports that checkout's packages first
        os.environ["PYTHONPATH"] = str(checkout)
    try:
        with running_stack(tmp, config) as stack:
            _restore(saved)
            ready = httpx.post(f"{stack.admin_url}/servers/fast/ensure", timeout=120).json()
            if workers > 1:  # `up` answers before its workers do: wait until all listen
                wait_for(lambda: listening(stack) == workers, 120, "the workers to listen")
            yield stack, ready["base_url"]
    finally:
        _restore(saved)


def _restore(saved: str | None) -> None:
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def measure(
    paths: list[LoadPath], clients: list[int], seconds: float, rounds: int
) -> dict[tuple[int, str], list[Phase]]:
    results: dict[tuple[int, str], list[Phase]] = {}
    for path in paths:  # warm every path up: connections, the proxy's address memory
        await closed_loop(path.url, 4, 0.5)
    for n in clients:
        for r in range(rounds):
            order = paths[r % len(paths) :] + paths[: r % len(paths)]
            for path in order:
                cpu_before = cpu_seconds(path.procs)
                phase = await closed_loop(path.url, n, seconds)
                phase.cpu = cpu_seconds(path.procs) - cpu_before
                results.setdefault((n, path.name), []).append(phase)
    return results


def report(
    paths: list[LoadPath], clients: list[int], results: dict[tuple[int, str], list[Phase]]
) -> None:
    print(
        f"{'clients':>7} {'path':<16}{'p50':>8}{'p99':>8}{'max':>8}{'+p50':>8}{'+p99':>8}"
        f"{'req/s':>8}{'cpu s/1k':>10}{'errors':>7}"
    )
    for n in clients:
        for path in paths:
            phases = results[(n, path.name)]
            lat = [x for p in phases for x in p.latencies]
            count = len(lat)
            rate = count / sum(p.seconds for p in phases)
            line = f"{n:>7} {path.name:<16}{pct(lat, 0.5):8.2f}{pct(lat, 0.99):8.2f}{max(lat):8.1f}"
            if path.direct is not None:
                base = [x for p in results[(n, path.direct)] for x in p.latencies]
                added = (pct(lat, 0.5) - pct(base, 0.5), pct(lat, 0.99) - pct(base, 0.99))
                line += f"{added[0]:+8.2f}{added[1]:+8.2f}"
            else:
                line += f"{'':8}{'':8}"
            cpu = sum(p.cpu for p in phases)
            per_request = f"{cpu / count * 1000:10.3f}" if path.procs else f"{'':10}"
            errors = sum(p.errors for p in phases)
            print(f"{line}{rate:8.0f}{per_request}{errors:7d}")
    print(
        "latencies in ms; +p50/+p99: through the proxy minus straight to its upstream; "
        "cpu s/1k: CPU seconds of modelyard up's process (and its proxy workers) per 1,000 "
        "requests"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="1,8,32", help="concurrencies, comma-separated")
    parser.add_argument("--seconds", type=float, default=4.0, help="per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--other", type=Path, default=None, help="another checkout, side by side")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[1],
        help="proxy.workers of this checkout's stack; several (1,2): a stack for each",
    )
    parser.add_argument(
        "--no-keep-alive",
        action="store_true",
        help="an upstream that closes every connection (HTTP/1.0), as fake_vllm does by default",
    )
    args = parser.parse_args()
    clients = [int(n) for n in args.clients.split(",")]
    keep_alive = not args.no_keep_alive
    with contextlib.ExitStack() as stacks:
        tmp = Path(stacks.enter_context(tempfile.TemporaryDirectory(prefix="modelyard-load-")))
        sides: list[tuple[str, Path | None, int]] = [
            (f"w{n} " if len(args.workers) > 1 else "", None, n) for n in args.workers
        ]
        if args.other is not None:
            sides.append(("other ", args.other.resolve(), 1))
        paths = []
        for label, checkout, workers in sides:
            where = tmp / (label.strip() or "here")
            stack, upstream = stacks.enter_context(stack_of(checkout, where, keep_alive, workers))
            paths += [
                LoadPath(f"{label}direct", upstream + CHAT, []),
                LoadPath(f"{label}proxy", stack.proxy_url + CHAT, proxy_processes(stack)),
            ]
            paths[-1].direct = paths[-2].name
        me = psutil.Process()
        mine = cpu_seconds([me])
        results = uvloop.run(measure(paths, clients, args.seconds, args.rounds))
        mine = cpu_seconds([me]) - mine
        rss = {p.name: max(q.memory_info().rss for q in p.procs) / 2**20 for p in paths if p.procs}
    print(
        f"proxy load: {args.rounds} rounds x {args.seconds:g} s per path and concurrency, "
        f"upstream {'keep-alive' if keep_alive else 'closing each connection'}, "
        f"{os.cpu_count()} CPUs shared by load generator, proxy and upstream"
    )
    report(paths, clients, results)
    total = sum(len(p.latencies) for phases in results.values() for p in phases)
    print(f"load generator: {mine / total * 1e6:.1f} us CPU per request")
    for name, mib in rss.items():
        print(f"RSS of the {name} process (the largest, with workers) at the end: {mib:.0f} MiB")


if __name__ == "__main__":
    main()
