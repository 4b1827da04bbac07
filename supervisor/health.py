"""Readiness: a server is ready when its health path answers 200, not when its process exists."""

from __future__ import annotations

import asyncio

from supervisor.engine import Engine
from supervisor.launcher import ServerHandle

# The first polls are 50 ms apart (a container or a sidecar is up in well under a second), then
# each is 25% later, up to 250 ms: a vLLM start of 20-200 s then costs a few hundred probes,
# not thousands (a flat 50 ms took ~6% of a core while two servers started on 2 cores), and
# the detection delay stays at most 250 ms, under the 0.5 s overhead budget.
POLL_INTERVAL = 0.05
POLL_MAX = 0.25
POLL_GROWTH = 1.25


async def wait_ready(engine: Engine, handle: ServerHandle, url: str, timeout: float) -> str | None:
    """Poll until healthy. Return None when ready, else why not (exit or timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    exited = asyncio.ensure_future(handle.wait())
    interval = POLL_INTERVAL
    try:
        while True:
            if exited.done():
                return f"exited with code {exited.result()} while starting"
            if await engine.healthy(url):
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return f"not healthy at {url} within {timeout:g} s"
            await asyncio.wait({exited}, timeout=min(interval, remaining))
            interval = min(interval * POLL_GROWTH, POLL_MAX)
    finally:
        exited.cancel()
