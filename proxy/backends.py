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

A caller may bound its wait (`max_wait`, issue 16): it waits on the shared question that
long at most, then leaves with a capacity error while the question goes on for the others
(and its answer is remembered for the next request). The question itself carries no max
wait: it is shared, and one caller's short deadline must not cut the wait of another that
would wait longer; the supervisor's queue_timeout bounds it, as before.

Sharing stops once a question has gone unanswered for `join_window` seconds: by then the
server is not ready but loading or waiting for room, and the supervisor's scheduler weighs
who waits (how many, how long, by when). One shared question would be one request with no
deadline; so from then on each caller asks on its own, with its own max wait, and the
supervisor lets go of it when that runs out. A ready server answers in milliseconds, well
inside the window, so the herd at an expired answer still asks once.

Remote servers (`servers.<name>.remote`: called through LiteLLM, proxy/remote.py) are never
asked of the supervisor, which does not know them: they are ready (`ready_now`, a wait of 0 in
`waits`), wanting one asks nothing, and what a provider stored stays there (`still_holds`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from openai_wire.errors import CAPACITY_UNAVAILABLE, UNAVAILABLE
from proxy.errors import UnavailableError
from proxy.waits import MAX_WAIT_HEADER, Wait
from supervisor.errors import (
    AdminUnreachableError,
    CapacityError,
    NoFreePortError,
    StartFailedError,
    SupervisorError,
    UnknownServerError,
)

log = logging.getLogger("modelyard.proxy")


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
    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]: ...

    async def server(self, name: str) -> dict[str, Any]: ...

    async def waits(self, names: list[str]) -> list[dict[str, Any]]: ...


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

    __slots__ = ("asked_at", "forgotten", "task")

    def __init__(self, asked_at: float) -> None:
        self.task: asyncio.Task[str] | None = None
        self.forgotten = False  # forget() came after it was asked: its answer may be stale
        self.asked_at = asked_at


class Backends:
    def __init__(
        self,
        admin: Admin,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        refresh_after: float = 0.75,  # the share of the ttl after which a request refreshes
        join_window: float = 1.0,  # seconds a question is shared; then each caller asks alone
        remote: Collection[str] = (),  # servers called through LiteLLM, never asked about
    ) -> None:
        self._remote = frozenset(remote)
        self._join_window = join_window
        self._admin = admin
        self._ttl = ttl
        self._refresh_in = ttl * refresh_after
        self._clock = clock
        self._ready: dict[str, _Answer] = {}
        self._asking: dict[str, _Question] = {}
        self._instances: dict[str, str | None] = {}
        self._variants: dict[str, str | None] = {}

    async def ensure(self, server: str, max_wait: float | None = None) -> Address:
        """Base URL of `server` once it is ready (started on demand by the supervisor).
        `max_wait`: seconds this caller waits at most, then CapacityUnavailableError."""
        answer = self._ready.get(server)
        if answer is not None:
            now = self._clock()
            if now < answer.expires:
                if now >= answer.refresh_at and server not in self._asking:
                    self._ask_once(server, refreshing=answer)  # in the background
                return Address(answer.url, remembered=True)
        question = self._asking.get(server)
        if question is not None and self._clock() - question.asked_at >= self._join_window:
            return await self._ask_alone(server, max_wait)
        question = question or self._ask_once(server)
        assert question.task is not None
        # shielded: a caller that goes away (its client hung up, or its max wait ran out)
        # leaves the question to the rest
        if max_wait is None:
            url = await asyncio.shield(question.task)
        else:
            url = await _within(server, question.task, max_wait)
        return Address(url, remembered=question.forgotten)

    async def waits(self, servers: Sequence[str]) -> list[Wait] | None:
        """The supervisor's predicted wait for each server, in order; None when it cannot
        say. A prediction is advice: a supervisor that does not answer fails no request."""
        local = [s for s in servers if s not in self._remote]
        if not local:
            return [_remote_wait(s) for s in servers]
        try:
            answers = await self._admin.waits(local)
        except SupervisorError as exc:
            log.info("no predicted waits for %s: %s", ", ".join(local), exc)
            return None
        found = {w.server: w for w in (Wait.of(answer) for answer in answers)}
        return [
            _remote_wait(s) if s in self._remote else found[s]
            for s in servers
            if s in self._remote or s in found
        ]

    async def _ask_alone(self, server: str, max_wait: float | None) -> Address:
        """One caller's own question, for a server that is not ready (see the module's note)."""
        if max_wait is None:
            url = await self._ask(server)
        else:
            # the supervisor answers by max_wait; this bounds a supervisor that does not
            try:
                async with asyncio.timeout(max_wait + 5.0):
                    url = await self._ask(server, max_wait)
            except TimeoutError:
                raise CapacityUnavailableError(
                    f"{server!r} was not ready within the max wait of {max_wait:g} s "
                    f"({MAX_WAIT_HEADER})"
                ) from None
        now = self._clock()
        self._ready[server] = _Answer(url, now + self._refresh_in, now + self._ttl)
        return Address(url, remembered=False)

    def _ask_once(self, server: str, refreshing: _Answer | None = None) -> _Question:
        question = self._asking[server] = _Question(self._clock())
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

    def want(self, server: str) -> None:
        """Ask for `server` in the background, unless it is known ready or already asked for:
        a request that did not wait for it still tells the supervisor it is wanted (one ticket
        per proxy process, however many requests pass it over), and its answer is remembered
        for the requests after."""
        if not self.ready_now(server) and server not in self._asking:
            self._ask_once(server)

    def ready_now(self, server: str) -> bool:
        """Whether `server` is known ready without asking: an answer remembered and unexpired.
        False says only "not known", not "not ready"."""
        if server in self._remote:
            return True
        answer = self._ready.get(server)
        return answer is not None and self._clock() < answer.expires

    def variant(self, server: str) -> str | None:
        """The variant the last answer about `server` named: the server that really answers
        for it (the supervisor placed a smaller one); None when it is `server` itself."""
        return self._variants.get(server)

    def instance(self, server: str) -> str | None:
        """The process the last answer about `server` named (instance_of)."""
        return self._instances.get(server)

    async def still_holds(self, server: str, instance: str | None) -> bool:
        """Whether `server` still runs as the process `instance`, without starting it: what
        that process kept in memory is gone once it stopped or was restarted."""
        if server in self._remote:
            return True  # the provider keeps what it stored; if not, its own error says so
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

    async def _ask(self, server: str, max_wait: float | None = None) -> str:
        try:
            if max_wait is None:
                info = await self._admin.ensure(server)
            else:
                info = await self._admin.ensure(server, max_wait=max_wait)
        except StartFailedError as exc:
            last = f" Last log line: {exc.log_tail[-1]}" if exc.log_tail else ""
            raise UnavailableError(
                f"Server {server!r} could not be started: {exc.reason}.{last}"
            ) from exc
        except CapacityError as exc:
            # rounded up: a client that comes back after a floored figure finds it not yet ready
            later = exc.retry_after
            headers = {"retry-after": str(max(1, math.ceil(later)))} if later else {}
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
        # fit by variant: the supervisor answered with a smaller server of the same model
        self._variants[server] = info.get("name") if info.get("variant_of") == server else None
        return base_url


def _remote_wait(server: str) -> Wait:
    return Wait(server, ready=True, seconds=0.0, reason="remote: called through LiteLLM")


async def _within(server: str, task: asyncio.Task[str], max_wait: float) -> str:
    try:
        async with asyncio.timeout(max_wait) as deadline:
            return await asyncio.shield(task)
    except TimeoutError:
        if not deadline.expired():
            raise  # the question's own timeout, not this caller's
        raise CapacityUnavailableError(
            f"{server!r} was not ready within the max wait of {max_wait:g} s "
            f"({MAX_WAIT_HEADER}); it is still being made ready"
        ) from None
