"""How one server is being used: what eviction weighs (capacity.Resident's pinned, in_flight,
last_used) and the engine's served counter that tells a use from idleness.

Each ManagedServer owns one (`server.usage`). Its fields are private with read-only
properties, so mypy rejects an assignment from outside: the monitor, the fleet and the admin
API report what they saw or decided through its methods and never write a number themselves.
"""

from __future__ import annotations

import time

from supervisor.engine import Load


class Usage:
    def __init__(self, pinned: bool) -> None:
        self._pinned = pinned
        self._last_used = time.monotonic()
        self._in_flight = 0
        self._served = -1  # no reading yet

    @property
    def pinned(self) -> bool:
        """Never evicted while set (hot servers start pinned)."""
        return self._pinned

    @property
    def last_used(self) -> float:
        """time.monotonic() of the last sign of use."""
        return self._last_used

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def served(self) -> int:
        """The engine's served counter at the last reading; -1 before the first."""
        return self._served

    def pin(self) -> None:
        self._pinned = True

    def unpin(self) -> None:
        self._pinned = False

    def touch(self) -> None:
        """Used now: a request asked for it, or it just became ready."""
        self._last_used = time.monotonic()

    def observe_load(self, load: Load) -> None:
        """A periodic load reading. A moved served counter or requests in flight mean it was
        used (proxies that remember a ready URL skip ensure(): this is how their traffic keeps
        it from expiring); the first reading only sets the baseline."""
        self._in_flight = load.in_flight
        if load.served != self._served or load.in_flight:
            if self._served >= 0:
                self.touch()
            self._served = load.served

    def observe_in_flight(self, in_flight: int) -> None:
        """A point reading taken just before evicting it: only whether it is busy right now;
        use and idleness stay with the periodic observe_load()."""
        self._in_flight = in_flight
