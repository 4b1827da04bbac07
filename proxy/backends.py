"""Asks the supervisor for a ready server, remembers the answer briefly, translates errors.

Asking the supervisor on every request costs a loopback round trip and two wake-ups on a
busy box; the answer rarely changes. So a ready server's URL is kept for `ttl` seconds and
dropped at once when a connection to it is refused (`forget`). The supervisor hands ports out
round-robin, so a remembered URL cannot point at a different model in that window. An address
says whether it was remembered: the supervisor may have stopped that server since (an
eviction), so a refusal there is no sign the server is broken, and is asked about again.

The ttl is also how the supervisor learns a server is in use (each ensure touches it), so a
busy server is asked about once per ttl or so, and an idle one not at all. Two things keep
that question off the requests' path (issue 14: when the memory expired, every request in
flight asked on its own, and 17-32 of them waited 200-300 ms at once at 32 clients):

- one question per server at a time: callers that need an answer while one is being asked
  wait for that one (single-flight), however many they are;
- refresh ahead: a request that finds the answer in its last quarter of life (`refresh_at`)
  starts that question in the background and goes on with the remembered URL, so while
  requests keep coming the answer is renewed before it expires and none waits. Only requests
  start a refresh, never a timer: an idle server's answer expires, and the supervisor sees it
  idle, as before. A failed refresh is not retried in the background and not remembered: the
  URL stays until its ttl ends (it answered a moment ago), then the next request asks, and
  waits, and gets the error if there still is one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class _Answer:
    url: str
    refresh_at: float  # from here on, a request starts a refresh in the background
    expires: float  # from here on, the URL is not used without asking again


class _Question:
    """One ensure in flight for a server, shared by every caller that needs its answer."""

    __slots__ = ("forgotten", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[str] | None = None
        self.forgotten = False  # forget() came after it was asked: its answer may be stale


class Backends:
    def __init__(
        self,
        admin: Admin,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        refresh_after: float = 0.75,  # the share of the ttl after which a request refreshes
    ) -> None:
        self._admin = admin
        self._ttl = ttl
        self._refresh_in = ttl * refresh_after
        self._clock = clock
        self._ready: dict[str, _Answer] = {}
        self._asking: dict[str, _Question] = {}
        self._instances: dict[str, str | None] = {}

    async def ensure(self, server: str) -> Address:
        """Base URL of `server` once it is ready (started on demand by the supervisor)."""
        answer = self._ready.get(server)
        if answer is not None:
            now = self._clock()
            if now < answer.expires:
                if now >= answer.refresh_at and server not in self._asking:
                    self._ask_once(server, refreshing=answer)  # in the background
                return Address(answer.url, remembered=True)
        question = self._asking.get(server) or self._ask_once(server)
        assert question.task is not None
        # shielded: a caller that goes away (its client hung up) leaves the question to the rest
        url = await asyncio.shield(question.task)
        return Address(url, remembered=question.forgotten)

    def _ask_once(self, server: str, refreshing: _Answer | None = None) -> _Question:
        question = self._asking[server] = _Question()
        question.task = asyncio.create_task(self._remember(server, question, refreshing))
        # retrieved: a background refresh's error has no one waiting for it
        question.task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return question

    async def _remember(self, server: str, question: _Question, refreshing: _Answer | None) -> str:
        """The answer, remembered unless forgotten meanwhile. The bookkeeping is done before
        the task ends, so no caller can join a question that is over."""
        try:
            base_url = await self._ask(server)
        except BaseException:
            # a failed refresh is not tried again in the background before the answer expires:
            # a supervisor that is down would otherwise be asked once per request until then
            if refreshing is not None and self._ready.get(server) is refreshing:
                self._ready[server] = replace(refreshing, refresh_at=refreshing.expires)
            raise
        else:
            if not question.forgotten:
                now = self._clock()
                self._ready[server] = _Answer(base_url, now + self._refresh_in, now + self._ttl)
            return base_url
        finally:
            if self._asking.get(server) is question:
                del self._asking[server]

    async def aclose(self) -> None:
        """Cancel the questions still in flight (the app is stopping)."""
        tasks = [q.task for q in self._asking.values() if q.task is not None]
        self._asking.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def forget(self, server: str) -> None:
        """Drop what is known of `server`'s address: the next request asks afresh, even while
        a question asked before this is still in flight (its answer is not remembered)."""
        self._ready.pop(server, None)
        question = self._asking.pop(server, None)
        if question is not None:
            question.forgotten = True

    def ready_now(self, server: str) -> bool:
        """Whether `server` is known ready without asking: an answer remembered and unexpired.
        False says only "not known", not "not ready"."""
        answer = self._ready.get(server)
        return answer is not None and self._clock() < answer.expires

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
