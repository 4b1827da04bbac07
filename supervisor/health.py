"""Readiness: a server is ready when its health path answers 200, not when its process exists."""

from __future__ import annotations

import asyncio

from supervisor.engine import Engine
from supervisor.launcher import ServerHandle

# vLLM's tiny CPU servers take ~20 s to start; 50 ms polls keep the detection delay far under
# the 0.5 s overhead budget while costing a few hundred cheap requests per start.
POLL_INTERVAL = 0.05


async def wait_ready(engine: Engine, handle: ServerHandle, url: str, timeout: float) -> str | None:
    """Poll until healthy. Return None when ready, else why not (exit or timeout)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    exited = asyncio.ensure_future(handle.wait())
    try:
        while True:
            if exited.done():
                return f"exited with code {exited.result()} while starting"
            if await engine.healthy(url):
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return f"not healthy at {url} within {timeout:g} s"
            await asyncio.wait({exited}, timeout=min(POLL_INTERVAL, remaining))
    finally:
        exited.cancel()
