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
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from modelyard_config import ConfigError
from proxy.drain import Drain
from supervisor.errors import SupervisorError

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


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a taken port is one clear error, not a half-up stack."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this. Without it small responses wait ~40 ms on delayed ACKs
    # (measured: 44 ms per admin call), since uvloop leaves a socket handed to it as it is.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


async def run_stack(
    apps: list[tuple[Starlette, str, int]], on_ready: Callable[[], None] = lambda: None
) -> None:
    """Serve `(app, host, port)` triples until a signal; shut them down in order (first first)."""
    sockets: list[socket.socket] = []
    try:
        for _, host, port in apps:
            sockets.append(_listen(host, port))
    except ListenError:
        for sock in sockets:
            sock.close()
        raise
    servers = [_server(app, host, port) for app, host, port in apps]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    force = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            force.set()
            for server in servers:
                server.force_exit = True
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    running: list[tuple[_Server, socket.socket, Drain | None, asyncio.Task[None]]] = []
    try:
        # The last app (the supervisor) starts first, so the proxy never answers without it.
        for (app, _, _), server, sock in reversed(list(zip(apps, servers, sockets, strict=True))):
            task = asyncio.create_task(server.serve(sockets=[sock]))
            running.insert(0, (server, sock, _drain_of(app), task))
            while not server.started and not task.done():
                await asyncio.sleep(0.02)
            if task.done():  # its lifespan failed: shut the rest down, then say why
                failed = server.failed or "it stopped while starting (see the log above)"
                raise StartupError(f"{_name(app)} did not start: {failed}")
        on_ready()
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *(t for *_, t in running)], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        for server, sock, drain, task in running:  # proxy first, then the supervisor
            # drain on a signal only: after a failure, stop as quickly as before
            if drain is not None and stop.is_set() and not task.done():
                drain.begin()
                _stop_listening(server, sock)
                await _drain(drain, force)
            server.should_exit = True
            with contextlib.suppress(SystemExit, asyncio.CancelledError):
                await task
        for sock in sockets:
            sock.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


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
