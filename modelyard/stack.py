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
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # signal handling belongs to run_stack, which owns every server in the loop


def _server(app: FastAPI, host: str, port: int) -> _Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=5
    )
    return _Server(config)


async def run_stack(apps: list[tuple[FastAPI, str, int]]) -> None:
    """Serve `(app, host, port)` triples until a signal; shut them down in order (first first)."""
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
        for server in reversed(servers):
            task = asyncio.create_task(server.serve())
            running.insert(0, (server, task))
            while not server.started and not task.done():
                await asyncio.sleep(0.02)
            if task.done():
                raise SystemExit(
                    f"modelyard: could not serve on {server.config.host}:"
                    f"{server.config.port} (in use?)"
                )
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait([waiter, *(t for _, t in running)], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
    finally:
        for server, task in running:  # proxy first, then the supervisor
            server.should_exit = True
            with contextlib.suppress(SystemExit, asyncio.CancelledError):
                await task
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
