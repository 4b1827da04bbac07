"""Asks the supervisor for a ready server, remembers the answer briefly, translates errors.

Asking the supervisor on every request costs a loopback round trip and two wake-ups on a
busy box; the answer rarely changes. So a ready server's URL is kept for `ttl` seconds
(after which the next request asks again, which also tells the supervisor the server is in
use) and dropped at once when a connection to it is refused (`forget`). The supervisor hands
ports out round-robin, so a remembered URL cannot point at a different model in that window.
An address says whether it was remembered: the supervisor may have stopped that server since
(an eviction), so a refusal there is no sign the server is broken, and is asked about again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from openai_wire.errors import CAPACITY_UNAVAILABLE, UNAVAILABLE
from proxy.errors import UnavailableError
from supervisor.errors import (
    AdminUnreachableError,
    CapacityError,
    NoFreePortError,
    StartFailedError,
    SupervisorError,
    UnknownServerError,
)


class SupervisorUnreachableError(UnavailableError):
    fault = UNAVAILABLE.with_code("supervisor_unreachable")


class CapacityUnavailableError(UnavailableError):
    fault = CAPACITY_UNAVAILABLE


class PortsExhaustedError(UnavailableError):
    """The supervisor has no port left to start a server on: the box's state, not the server's."""

    fault = UNAVAILABLE.with_code("no_free_port")


class Address(NamedTuple):
    url: str
    remembered: bool  # from the short memory, not a fresh answer: it may have gone stale


class Admin(Protocol):
    async def ensure(self, name: str) -> dict[str, Any]: ...

    async def server(self, name: str) -> dict[str, Any]: ...


# The states in which a server's process is the one that was started: what it holds in memory
# (vLLM's stored responses) is still there.
_ALIVE = frozenset({"ready", "sleeping", "asleep", "waking"})


def instance_of(info: dict[str, Any]) -> str | None:
    """Which process of a server an answer describes: its pid and start time, together."""
    pid, started = info.get("pid"), info.get("started_at")
    return f"{pid}@{started}" if pid is not None and started is not None else None


class Backends:
    def __init__(
        self, admin: Admin, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._admin = admin
        self._ttl = ttl
        self._clock = clock
        self._ready: dict[str, tuple[str, float]] = {}
        self._instances: dict[str, str | None] = {}

    async def ensure(self, server: str) -> Address:
        """Base URL of `server` once it is ready (started on demand by the supervisor)."""
        cached = self._ready.get(server)
        if cached is not None and cached[1] > self._clock():
            return Address(cached[0], remembered=True)
        base_url = await self._ask(server)
        self._ready[server] = (base_url, self._clock() + self._ttl)
        return Address(base_url, remembered=False)

    def forget(self, server: str) -> None:
        self._ready.pop(server, None)

    def instance(self, server: str) -> str | None:
        """The process the last answer about `server` named (instance_of)."""
        return self._instances.get(server)

    async def still_holds(self, server: str, instance: str | None) -> bool:
        """Whether `server` still runs as the process `instance`, without starting it: what
        that process kept in memory is gone once it stopped or was restarted."""
        if instance is None:
            return False
        try:
            info = await self._admin.server(server)
        except UnknownServerError:
            return False
        except AdminUnreachableError as exc:
            raise SupervisorUnreachableError(str(exc)) from exc
        except SupervisorError as exc:
            raise UnavailableError(f"Server {server!r} is unavailable: {exc}") from exc
        return info.get("state") in _ALIVE and instance_of(info) == instance

    async def _ask(self, server: str) -> str:
        try:
            info = await self._admin.ensure(server)
        except StartFailedError as exc:
            last = f" Last log line: {exc.log_tail[-1]}" if exc.log_tail else ""
            raise UnavailableError(
                f"Server {server!r} could not be started: {exc.reason}.{last}"
            ) from exc
        except CapacityError as exc:
            headers = {"retry-after": str(int(exc.retry_after))} if exc.retry_after else {}
            raise CapacityUnavailableError(
                f"No room to load {server!r}: {exc.reason}", headers=headers
            ) from exc
        except NoFreePortError as exc:
            raise PortsExhaustedError(f"No port left to start {server!r} on: {exc}") from exc
        except UnknownServerError as exc:
            raise UnavailableError(
                f"The supervisor does not manage {server!r}: proxy and supervisor run "
                "different configs."
            ) from exc
        except AdminUnreachableError as exc:
            raise SupervisorUnreachableError(str(exc)) from exc
        except SupervisorError as exc:
            raise UnavailableError(f"Server {server!r} is unavailable: {exc}") from exc
        base_url: str = info["base_url"]
        self._instances[server] = instance_of(info)
        return base_url
