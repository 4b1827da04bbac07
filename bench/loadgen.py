"""A closed-loop HTTP/1.1 load generator for `make bench-compare`, in worker processes.

C clients, each with its own keep-alive connection, each sending its next request as soon as
the last one's response has fully arrived. The clients of one run are spread over worker
processes (`processes_for`), so no GIL is shared across many clients; each worker runs its
clients on uvloop with a bare asyncio Protocol and hand-built request bytes, so that the
generator's own cost per request stays far below the cost of what it measures
(bench/compare.py measures the generator's ceiling against nginx answering by itself, and
prints it beside the results).

Per request it records the latency (request written to last byte read) and the time to the
first byte of the body (for a stream: the first event). A run connects every client first,
starts them together at a shared monotonic instant (CLOCK_MONOTONIC is system-wide on Linux,
so workers agree on it), discards a warm-up, and keeps the requests that started after the
warm-up and finished within the window.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
import socket
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, cast


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def request(self) -> bytes:
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"host: {self.host}:{self.port}",
            "content-type: application/json",
            f"content-length: {len(self.body)}",
            *(f"{name}: {value}" for name, value in self.headers),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class Job:
    target: Target
    clients: int
    start_at: float  # time.monotonic() at which every client sends its first request
    warmup: float
    duration: float
    timeout: float = 30.0


@dataclass
class Samples:
    """One run's measurements, from one worker or merged from several (milliseconds)."""

    latency_ms: array[float] = field(default_factory=lambda: array("d"))
    ttfb_ms: array[float] = field(default_factory=lambda: array("d"))
    errors: int = 0
    completed: int = 0  # all requests answered, warm-up and tail included (for CPU per request)
    in_window: int = 0  # answers that arrived within the window, whenever sent (for req/s)
    window_s: float = 0.0
    cpu_s: float = 0.0  # the generator's own CPU time over the run

    @property
    def rps(self) -> float:
        return self.in_window / self.window_s if self.window_s else 0.0

    def merge(self, other: Samples) -> None:
        """Add another worker's share of the same run (same window), or another run."""
        self.latency_ms.extend(other.latency_ms)
        self.ttfb_ms.extend(other.ttfb_ms)
        self.errors += other.errors
        self.completed += other.completed
        self.in_window += other.in_window
        self.cpu_s += other.cpu_s


class ResponseError(Exception):
    pass


class _Client(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.done: asyncio.Future[bool] | None = None
        self.first_byte = 0.0
        self._body_at = -1  # offset of the body in buffer, once the headers are in
        self._length = -1  # content-length, or -1 for a chunked body
        self._scan = 0  # chunked: offset of the next chunk's size line
        self._status = b""
        self._close = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.done is not None and not self.done.done():
            self.done.set_exception(ResponseError(f"connection lost: {exc}"))

    def send(self, request: bytes) -> asyncio.Future[bool]:
        """A future that resolves to whether the answer was a 200, once all of it is here."""
        assert self.transport is not None
        self.buffer.clear()
        self._body_at = -1
        self.first_byte = 0.0
        self.done = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.done

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.done is None or self.done.done():
            return  # nothing asked: a stray byte, or the tail of an abandoned answer
        if self._body_at < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self._headers(bytes(self.buffer[:end]).lower()):
                self.done.set_exception(ResponseError("neither content-length nor chunks"))
                return
            self._body_at = self._scan = end + 4
        if not self.first_byte and len(self.buffer) > self._body_at:
            self.first_byte = time.monotonic()
        if self._complete():
            self.done.set_result(self._status == b"200")

    def _headers(self, head: bytes) -> bool:
        """Read the status and the framing; False for a body this client cannot delimit."""
        self._status = head[9:12]
        self._close = b"\r\nconnection: close" in head
        if b"\r\ntransfer-encoding: chunked" in head:
            self._length = -1
            return True
        value = header(head, b"content-length")
        if value is None:
            return False
        self._length = int(value)
        return True

    def _complete(self) -> bool:
        if self._length >= 0:
            return len(self.buffer) >= self._body_at + self._length
        while True:  # chunked: step over whole chunks until the last (size 0) one
            line_end = self.buffer.find(b"\r\n", self._scan)
            if line_end < 0:
                return False
            size = int(bytes(self.buffer[self._scan : line_end]).split(b";")[0], 16)
            chunk_end = line_end + 2 + size + 2
            if len(self.buffer) < chunk_end:
                return False
            self._scan = chunk_end
            if size == 0:
                return True

    @property
    def reusable(self) -> bool:
        return self.transport is not None and not self._close


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` in a lower-cased head (request or status line first)."""
    at = head.find(b"\r\n" + name + b":")
    if at < 0:
        return None
    stop = head.find(b"\r\n", at + 2)
    return head[at + len(name) + 3 : stop if stop >= 0 else None].strip()


async def _connect(target: Target, samples: Samples, end: float) -> _Client | None:
    """A connected client, or None once `end` has passed (each failed try is an error)."""
    loop = asyncio.get_running_loop()
    while time.monotonic() < end:
        try:
            _, client = await loop.create_connection(_Client, target.host, target.port)
        except OSError:
            samples.errors += 1
            await asyncio.sleep(0.01)
            continue
        return client
    return None


async def _one_client(job: Job, samples: Samples, window: tuple[float, float]) -> None:
    request = job.target.request()
    begin, end = window
    client = await _connect(job.target, samples, end)
    now = time.monotonic()
    if job.start_at > now:
        await asyncio.sleep(job.start_at - now)
    while client is not None and (sent := time.monotonic()) < end:
        try:
            ok = await asyncio.wait_for(client.send(request), job.timeout)
        except (ResponseError, TimeoutError, OSError):
            ok = False
        done = time.monotonic()
        if ok:
            samples.completed += 1
            samples.in_window += begin <= done <= end
            if sent >= begin and done <= end:
                samples.latency_ms.append((done - sent) * 1000)
                samples.ttfb_ms.append((client.first_byte - sent) * 1000)
        else:
            samples.errors += 1
        if not ok or not client.reusable:
            if client.transport is not None:
                client.transport.close()
            client = await _connect(job.target, samples, end)
    if client is not None and client.transport is not None:
        client.transport.close()


async def _run(job: Job) -> Samples:
    samples = Samples()
    began_cpu = time.process_time()
    window = (job.start_at + job.warmup, job.start_at + job.warmup + job.duration)
    await asyncio.gather(*(_one_client(job, samples, window) for _ in range(job.clients)))
    samples.cpu_s = time.process_time() - began_cpu
    samples.window_s = job.duration
    return samples


def _worker(conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the run ends
    import uvloop

    while (job := conn.recv()) is not None:
        conn.send(uvloop.run(_run(job)))


def processes_for(clients: int) -> int:
    """Worker processes for `clients`: one up to 15, then one per 16 clients, at most 4."""
    return max(1, min(4, clients // 16))


def split(clients: int, processes: int) -> list[int]:
    """`clients` spread as evenly as possible over `processes` (none left empty)."""
    processes = max(1, min(processes, clients))
    return [clients // processes + (i < clients % processes) for i in range(processes)]


class LoadGen:
    """A pool of worker processes, started once; `run` hands each its share of a run."""

    def __init__(self, processes: int = 4) -> None:
        context = multiprocessing.get_context("spawn")  # no inherited loop, sockets or threads
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_worker, args=(child,), daemon=True)
            proc.start()
            self._pipes.append(parent)
            self._procs.append(proc)

    def run(
        self,
        target: Target,
        clients: int,
        duration: float,
        warmup: float,
        processes: int | None = None,
        timeout: float = 30.0,
    ) -> Samples:
        shares = split(clients, min(processes or processes_for(clients), len(self._pipes)))
        # time for every worker to connect its clients before the common start
        start_at = time.monotonic() + 0.1 + 0.002 * clients
        for pipe, share in zip(self._pipes, shares, strict=False):
            pipe.send(Job(target, share, start_at, warmup, duration, timeout))
        merged = Samples(window_s=duration)
        for pipe in self._pipes[: len(shares)]:
            merged.merge(pipe.recv())
        return merged

    def close(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(None)
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
                proc.join()

    def __enter__(self) -> LoadGen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
