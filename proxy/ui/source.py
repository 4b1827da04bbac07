"""What the status page reads from the supervisor: servers, devices and the queue, asked
together and shared.

Each open page polls every second. One reading serves every poll that comes within `max_age`
of it, and a poll that arrives while one is being taken waits for that one (single-flight): ten
open pages cost the supervisor what one does (a servers list measures each server's memory,
milliseconds of its loop). A supervisor that does not answer within `timeout` is a reading
with an error, not a page that hangs: the proxy's own part (recent requests) still shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from supervisor.errors import SupervisorError


class StatusAdmin(Protocol):
    async def servers(self) -> list[dict[str, Any]]: ...

    async def devices(self) -> dict[str, Any]: ...

    async def schedule(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Reading:
    taken: float  # the clock's time when it was asked for
    servers: list[dict[str, Any]] = field(default_factory=list)
    devices: dict[str, Any] | None = None
    schedule: dict[str, Any] | None = None
    error: str | None = None  # why there is nothing from the supervisor


class SupervisorReadings:
    def __init__(
        self,
        admin: StatusAdmin,
        max_age: float = 0.5,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.admin = admin
        self.max_age = max_age
        self.timeout = timeout
        self.clock = clock
        self._last: Reading | None = None
        self._taking: asyncio.Task[Reading] | None = None
        self._outdated: set[asyncio.Task[Reading]] = set()  # kept referenced until done

    async def read(self) -> Reading:
        last = self._last
        if last is not None and self.clock() - last.taken < self.max_age:
            return last
        taking = self._taking
        if taking is None:
            taking = self._taking = asyncio.create_task(self._take())
            taking.add_done_callback(self._taken)
        # shielded: a poll whose page went away must not cancel the reading others wait for
        return await asyncio.shield(taking)

    def forget(self) -> None:
        """After an action: the next read asks afresh, and one already being taken (asked
        before the action) is not kept for later polls."""
        self._last = None
        if self._taking is not None:
            self._outdated.add(self._taking)  # answered to its waiters only
            self._taking = None

    async def aclose(self) -> None:
        for task in (self._taking, *self._outdated):
            if task is not None:
                task.cancel()

    def _taken(self, task: asyncio.Task[Reading]) -> None:
        if task is not self._taking:
            self._outdated.discard(task)
            return
        self._taking = None
        if not task.cancelled() and task.exception() is None:
            self._last = task.result()

    async def _take(self) -> Reading:
        taken = self.clock()
        failed: list[SupervisorError] = []
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    # a task group: when one question fails, the others are cancelled with it
                    async with asyncio.TaskGroup() as group:
                        servers = group.create_task(self.admin.servers())
                        devices = group.create_task(self.admin.devices())
                        schedule = group.create_task(self.admin.schedule())
                except* SupervisorError as errors:
                    failed = [e for e in errors.exceptions if isinstance(e, SupervisorError)]
        except TimeoutError:
            return Reading(taken, error=f"the supervisor did not answer within {self.timeout:g} s")
        if failed:
            return Reading(taken, error=str(failed[0]) or type(failed[0]).__name__)
        return Reading(taken, servers.result(), devices.result(), schedule.result())
