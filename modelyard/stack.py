"""Runs the supervisor, the proxy, or both in one process and one event loop.

Signals are ours, not uvicorn's: the first SIGINT/SIGTERM asks every server to shut down in
order (proxy first, so no new request arrives, then the supervisor, whose shutdown stops every
child process group); a second one forces the exit. Either way the supervisor's fleet is
stopped in `finally`, so no child outlives this process on an error either.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Generator

import uvicorn
from starlette.applications import Starlette


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signal handling belongs to run_stack, which owns every server in the loop


def _server(app: Starlette, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
    )
    return _Server(config)


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

    def on_signal() -> None:
        if stop.is_set():
            for server in servers:
                server.force_exit = True
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    running: list[tuple[_Server, asyncio.Task[None]]] = []
    try:
        # The last app (the supervisor) starts first, so the proxy never answers without it.
        for server, sock in reversed(list(zip(servers, sockets, strict=True))):
            task = asyncio.create_task(server.serve(sockets=[sock]))
            running.insert(0, (server, task))
            while not server.started and not task.done():
                await asyncio.sleep(0.02)
            if task.done():
                return  # its lifespan failed and uvicorn logged why; shut the rest down
        on_ready()
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *(t for _, t in running)], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        for server, task in running:  # proxy first, then the supervisor
            server.should_exit = True
            with contextlib.suppress(SystemExit, asyncio.CancelledError):
                await task
        for sock in sockets:
            sock.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
