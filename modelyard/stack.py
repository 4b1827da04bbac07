"""Runs the supervisor, the proxy, or both in one process and one event loop.

Signals are ours, not uvicorn's: the first SIGINT/SIGTERM shuts the servers down in order.
The proxy first: its listening socket closes (a new connection is refused), its drain
(proxy/drain.py) answers requests on open connections with 503 and gives those in flight
`proxy.drain_grace` seconds before it ends the rest, and then the server stops. The supervisor
last, whose shutdown stops every child process group. A second signal forces the exit at once,
mid-drain too. Either way the supervisor's fleet is stopped in `finally`, so no child outlives
this process on an error either.

A server whose startup fails (its lifespan raised: a bad keys file, a state directory another
supervisor holds, a budget that can never fit) stops the whole stack, and `run_stack` raises
StartupError with what failed, in one line for modelyard's own errors, instead of uvicorn's
`sys.exit(3)` and a page of tracebacks.

With `proxy.workers` above 1 the proxy's other processes (modelyard/workers.py) start once
this process serves, drain when its proxy drains, and a worker's exit stops the stack. Once
everything has started, `settle_heap` keeps the garbage collector off what start built.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import sys
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from modelyard.workers import WorkerExitedError, Workers
from modelyard_config import ConfigError
from proxy.drain import CUT_WAIT, Drain
from supervisor.errors import SupervisorError

# Allocations (less deallocations) between collections of the young generation: see settle_heap.
YOUNG_THRESHOLD = 10_000
# Startup failures that are the operator's to fix, said in one line: no traceback helps.
_OWN_ERRORS = (ConfigError, SupervisorError)


class StartupError(Exception):
    """A server of the stack could not start; the message says which and why."""


class _Server(uvicorn.Server):
    failed: str | None = None  # why its startup failed, once it has

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signal handling belongs to run_stack, which owns every server in the loop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit:  # uvicorn's answer to a failed lifespan: ours is StartupError
            self.failed = self.failed or "its startup failed (see the log above)"
            self.should_exit = True


class _Lifespan:
    """The app, with a startup failure of modelyard's own kind kept as one line for `server`
    rather than handed to uvicorn with its traceback."""

    def __init__(self, app: Starlette, server: Callable[[], _Server]) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)  # sent below, once the reason is known
                return
            await send(message)

        try:
            await self.app(scope, receive, hold_failure)
        except _OWN_ERRORS as exc:
            if not held:
                raise
            self.server().failed = str(exc)
            await send({"type": "lifespan.startup.failed", "message": ""})
            return
        for message in held:
            await send(message)


def _server(app: Starlette, host: str, port: int) -> _Server:
    holder: list[_Server] = []
    config = uvicorn.Config(
        _Lifespan(app, lambda: holder[0]),
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    holder.append(_Server(config))
    return holder[0]


class ListenError(OSError):
    pass


def _listen(host: str, port: int, reuse_port: bool = False, now: bool = True) -> socket.socket:
    """Bind before anything starts, so a taken port is one clear error, not a half-up stack.

    `reuse_port`: several proxy processes bind this port (proxy.workers) and the kernel
    spreads new connections over them. `now=False` leaves the listening to the server, which
    starts it once its app has started: a worker joining the others gets no connection to
    hold in its backlog while it loads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    # Accepted sockets inherit this. Without it small responses wait ~40 ms on delayed ACKs
    # (measured: 44 ms per admin call), since uvloop leaves a socket handed to it as it is.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    if now:
        sock.listen(2048)
    sock.set_inheritable(False)
    return sock


class _Signals:
    """The first SIGINT/SIGTERM stops the stack (`stop`), a second forces it (`force`); each is
    passed on to the proxy's workers. A worker also stops when its stdin closes: the process
    that started it is gone (modelyard/workers.py)."""

    def __init__(self, servers: list[_Server], workers: Workers | None, watch_stdin: bool) -> None:
        self.servers = servers
        self.workers = workers
        self.stop = asyncio.Event()
        self.force = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.add_signal_handler(sig, self.received)
        self.stdin = sys.stdin.fileno() if watch_stdin else None
        if self.stdin is not None:
            self.loop.add_reader(self.stdin, self._stdin_readable)

    def received(self) -> None:
        if self.stop.is_set():
            self.force.set()
            for server in self.servers:
                server.force_exit = True
            if self.workers is not None:
                self.workers.signal()  # their second signal: they force their exit too
        self.stop.set()

    def _stdin_readable(self) -> None:
        fd = self.stdin
        if fd is not None and not os.read(fd, 4096):  # EOF: nothing is ever written to it
            self.loop.remove_reader(fd)
            self.stdin = None
            self.received()

    def close(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self.loop.remove_signal_handler(sig)
        if self.stdin is not None:
            self.loop.remove_reader(self.stdin)


_Running = list[tuple[_Server, socket.socket, Drain | None, asyncio.Task[None]]]


async def run_stack(
    apps: list[tuple[Starlette, str, int]],
    on_ready: Callable[[], None] = lambda: None,
    workers: Workers | None = None,
    worker: bool = False,
) -> None:
    """Serve `(app, host, port)` triples until a signal; shut them down in order (first first).

    `workers`: the proxy's other processes (proxy.workers), started once this process serves
    and stopped with its proxy. `worker`: this process is one of them."""
    sockets: list[socket.socket] = []
    try:
        for app, host, port in apps:
            proxy = _drain_of(app) is not None
            reuse = proxy and (workers is not None or worker)
            sockets.append(_listen(host, port, reuse_port=reuse, now=not (proxy and worker)))
    except ListenError:
        for sock in sockets:
            sock.close()
        raise
    servers = [_server(app, host, port) for app, host, port in apps]
    signals = _Signals(servers, workers, watch_stdin=worker)
    running: _Running = []
    lost = False
    try:
        await _start(apps, servers, sockets, running)
        if workers is not None:
            try:
                await workers.start()
            except WorkerExitedError as exc:
                raise StartupError(f"the proxy's workers did not start: {exc}") from exc
        settle_heap()
        on_ready()
        lost = await _serve(signals.stop, running, workers)
    finally:
        await _shut_down(running, signals, workers)
        for sock in sockets:
            sock.close()
        signals.close()
    if lost:
        raise WorkerExitedError("a proxy worker exited (see the log above)")


async def _start(
    apps: list[tuple[Starlette, str, int]],
    servers: list[_Server],
    sockets: list[socket.socket],
    running: _Running,
) -> None:
    # The last app (the supervisor) starts first, so the proxy never answers without it.
    for (app, _, _), server, sock in reversed(list(zip(apps, servers, sockets, strict=True))):
        task = asyncio.create_task(server.serve(sockets=[sock]))
        running.insert(0, (server, sock, _drain_of(app), task))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():  # its lifespan failed: shut the rest down, then say why
            failed = server.failed or "it stopped while starting (see the log above)"
            raise StartupError(f"{_name(app)} did not start: {failed}")


async def _serve(stop: asyncio.Event, running: _Running, workers: Workers | None) -> bool:
    """Until a signal, or a server or a worker ends; True when a worker ended."""
    waiter = asyncio.create_task(stop.wait())
    lost = asyncio.create_task(workers.exited()) if workers is not None else None
    watched = [waiter, *(t for *_, t in running), *([lost] if lost is not None else [])]
    await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if lost is None:
        return False
    lost.cancel()
    return lost.done() and not lost.cancelled() and not stop.is_set()


async def _shut_down(running: _Running, signals: _Signals, workers: Workers | None) -> None:
    for server, sock, drain, task in running:  # proxy first, then the supervisor
        # drain on a signal only: after a failure, stop as quickly as before
        draining = drain is not None and signals.stop.is_set() and not task.done()
        if draining:
            assert drain is not None
            drain.begin()
            if workers is not None:
                workers.signal()  # each worker drains alongside
            _stop_listening(server, sock)
            await _drain(drain, signals.force)
        server.should_exit = True
        with contextlib.suppress(SystemExit, asyncio.CancelledError):
            await task
        if drain is not None and workers is not None:
            # the workers drained alongside this proxy: give them as long, then kill the rest
            await workers.stop(drain.grace + CUT_WAIT + 5.0 if draining else 5.0)


def settle_heap() -> None:
    """Keep the garbage collector off what was built at start, and off the requests in flight.

    What start builds (the config's models, the classifier's tables, the routes, every
    imported module: ~100k objects) lives as long as the process. Left in the oldest
    generation, each full collection walked it all: measured under load (issue 14), passes of
    100-130 ms every ~3 s at 32 clients that freed almost nothing, each a stall of every
    request in flight. Frozen, it is never looked at again (full passes: 3-7 ms).

    Nearly everything a request makes is freed by reference counting, so the young
    generation's count mostly tracks the objects of the requests in flight, and with 32 of
    them it crossed the default threshold of 700 some 65 times a second, each pass walking
    them all to free nothing: ~60 us of every request. At 7,000 and at 25,000 no pass ran in
    15 s of the same load; cyclic garbage is still collected once there is that much of it.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def _name(app: Any) -> str:
    return "the proxy" if _drain_of(app) is not None else "the supervisor"


def _drain_of(app: Starlette) -> Drain | None:
    drain = getattr(app.state, "drain", None)
    return drain if isinstance(drain, Drain) else None


def _stop_listening(server: _Server, sock: socket.socket) -> None:
    """Connections are refused from now on, not left waiting in the backlog until exit."""
    for listener in server.servers:
        listener.close()
    sock.close()


async def _drain(drain: Drain, force: asyncio.Event) -> None:
    """The drain, unless a second signal comes first."""
    draining = asyncio.create_task(drain.finish())
    forced = asyncio.create_task(force.wait())
    await asyncio.wait([draining, forced], return_when=asyncio.FIRST_COMPLETED)
    for task in (draining, forced):
        task.cancel()
