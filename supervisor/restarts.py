"""Restarts after a crash or failed health checks, with backoff (supervisord's startretries).

The delay doubles from `backoff_initial` up to `backoff_max`; after `max_restarts` in a row
the server stays `failed` for an operator (or the next request) to deal with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from modelyard_config.supervisor import HealthSettings
from supervisor.errors import SupervisorError
from supervisor.metrics import Metrics
from supervisor.server import ManagedServer
from supervisor.states import State

log = logging.getLogger("modelyard.supervisor")


def backoff(attempt: int, health: HealthSettings) -> float:
    """Seconds before restart number `attempt + 1`."""
    return float(min(health.backoff_initial * 2**attempt, health.backoff_max))


class Restarts:
    def __init__(self, health: HealthSettings, metrics: Metrics) -> None:
        self._health = health
        self._metrics = metrics
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def schedule(self, server: ManagedServer, why: str) -> None:
        if server.restarts >= self._health.max_restarts:
            log.error("%s: %s; gave up after %d restarts", server.name, why, server.restarts)
            return
        attempt = server.count_restart()
        delay = backoff(attempt - 1, self._health)
        self._metrics.restarts.labels(server.name).inc()
        log.warning("%s: %s; restart %d in %.1f s", server.name, why, attempt, delay)
        self.cancel(server.name)
        self._tasks[server.name] = asyncio.create_task(self._after(server, delay))

    async def _after(self, server: ManagedServer, delay: float) -> None:
        await asyncio.sleep(delay)  # backoff, not synchronisation
        if server.state is State.FAILED:
            with contextlib.suppress(SupervisorError):
                await server.ensure()

    def cancel(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()

    def cancel_all(self) -> None:
        for name in list(self._tasks):
            self.cancel(name)
