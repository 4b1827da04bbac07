"""Balancing among equals: the order in which a group's members are tried for one request.

A route may name a group of interchangeable servers (`groups:` in servers.yaml) where it names
one server; resolve.py puts the members in that place in config order and marks the span, and
`Balancer.order` reorders each span per request, from what the proxy knows at that moment:

- ready members first: a member not known ready may be asleep or stopped, and waking or
  starting it while a ready one can take the request spends a swap for nothing (issue 16).
  The members not known ready follow in config order, so the first of them is the one woken;
- among the ready, the least work in flight (the proxy's own requests to it, streams until
  their last byte): with concurrent requests a slow or busy member holds more of them, so
  this alone sends the next ones elsewhere;
- then the best measured latency (an EWMA of the time to the answer's first byte: a stream's
  first chunk, or a whole answer), which is what tells members apart when requests come one
  at a time. Only a clear difference counts: within `TIE` of the best plus `NOISE` seconds,
  members are equal, or a few milliseconds of jitter (a first connection, a busy box) would
  send everything to one member. A whole answer's time also grows with its length, so
  between members that serve the same mix its average evens out only over many requests;
- round-robin among what is still equal, from a turn counter per group.

"Known ready" is the proxy's memory of the supervisor's answers (Backends.ready_now), or, as
that memory only covers servers asked about in the last seconds (a member that got no request
would never be known again), the supervisor's word about each member, asked in the background
while requests for the group come (at most every `ASK_EVERY` seconds per group, never on a
timer). A latency not measured again for `FORGET_AFTER` seconds counts as unknown, which
ranks with the best: a member once slow gets a request again, and is measured again.

A chain with no group pays one check in `order` and one set lookup in `timed`: no await.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from starlette.responses import Content, Response, StreamingResponse

from modelyard_config import Config
from proxy.resolve import Plan
from supervisor.errors import SupervisorError

log = logging.getLogger("modelyard.proxy")

TIE = 0.25  # a latency at most this share above the best (plus NOISE) is as good as the best
NOISE = 0.05  # seconds: no model server is told apart from another by less
SMOOTHING = 0.3  # the weight of a new latency sample in the average
FORGET_AFTER = 30.0  # seconds after its last sample that a latency counts as unknown again
ASK_EVERY = 2.0  # seconds between two questions to the supervisor about one group
BELIEVE_FOR = 2 * ASK_EVERY  # seconds the supervisor's "ready" is taken as still true


@dataclass(frozen=True)
class Member:
    """What the policy weighs about one member of a group, for one request."""

    name: str
    ready: bool
    in_flight: int = 0
    latency: float | None = None  # seconds; None: not measured (or not lately)


def order(members: Sequence[Member], turn: int) -> tuple[str, ...]:
    """The members in the order to try them: the ready by (in flight, latency), round-robin
    from `turn` among equals; then the rest in the order given (the config's)."""
    ready = [m for m in members if m.ready]
    waiting = tuple(m.name for m in members if not m.ready)
    if not ready:
        return waiting
    best: dict[int, float] = {}  # the best latency at each in-flight count
    for m in ready:
        if m.latency is not None:
            best[m.in_flight] = min(m.latency, best.get(m.in_flight, m.latency))

    def rank(m: Member) -> tuple[int, float]:
        slower = m.latency is not None and m.latency > best[m.in_flight] * (1 + TIE) + NOISE
        return m.in_flight, m.latency if slower and m.latency is not None else 0.0

    start = turn % len(ready)
    rotated = ready[start:] + ready[:start]  # the sort is stable: equals keep this order
    return tuple(m.name for m in sorted(rotated, key=rank)) + waiting


class States(Protocol):
    """The part of the supervisor's client asked here: a server's state, without starting it."""

    async def server(self, name: str) -> dict[str, Any]: ...


class Balancer:
    """What the proxy knows of every group member, and the order it gives each request: one
    per app, held by the chain (proxy/fallback.py), which calls `order` on each plan and
    sends each request to a member through `timed`."""

    def __init__(
        self,
        config: Config,
        ready_now: Callable[[str], bool],
        states: States | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ready_now = ready_now
        self._states = states
        self._clock = clock
        self._groups = config.groups
        self._members = frozenset(s for members in config.groups.values() for s in members)
        # remote members are ready by definition (ready_now): the supervisor does not know them
        self._asked_of = self._members - frozenset(config.remote_servers())
        self._in_flight = dict.fromkeys(self._members, 0)
        self._latency: dict[str, tuple[float, float]] = {}  # server -> (average, sampled at)
        self._said_ready: dict[str, float] = {}  # server -> when the supervisor said so
        self._turns: dict[str, int] = {}
        self._asked: dict[str, float] = {}  # group -> when its members' states were asked
        self._asking: set[asyncio.Task[None]] = set()

    def order(self, plan: Plan) -> Plan:
        """`plan` with each group's span ordered for this request; its order is then final."""
        if not plan.groups:
            return plan
        candidates = list(plan.candidates)
        now = self._clock()
        for slot in plan.groups:
            end = slot.start + len(slot.members)
            if tuple(candidates[slot.start : end]) != slot.members:
                continue  # candidates replaced after planning (a pinned follow-up): leave them
            turn = self._turns.get(slot.group, 0)
            self._turns[slot.group] = turn + 1
            self._ask(slot.group, now)
            candidates[slot.start : end] = order([self.member(s, now) for s in slot.members], turn)
        return replace(plan, candidates=tuple(candidates), groups=())

    def member(self, server: str, now: float) -> Member:
        said = self._said_ready.get(server)
        ready = self._ready_now(server) or (said is not None and now - said < BELIEVE_FOR)
        measured = self._latency.get(server)
        latency = None
        if measured is not None and now - measured[1] < FORGET_AFTER:
            latency = measured[0]
        return Member(server, ready, self._in_flight.get(server, 0), latency)

    def timed(self, server: str, answer: Awaitable[Response]) -> Awaitable[Response]:
        """`answer` (a request forwarded to `server`), counted in flight until its last byte
        and timed to its first, if `server` is a group member; else `answer` itself."""
        if server not in self._members:
            return answer
        return self._timed(server, answer)

    async def _timed(self, server: str, answer: Awaitable[Response]) -> Response:
        self._in_flight[server] += 1
        started = self._clock()
        try:
            response = await answer
        except BaseException:
            self._in_flight[server] -= 1
            raise
        if response.status_code < 400:  # an error is no sample of how fast it serves
            self._sample(server, self._clock() - started)
        if isinstance(response, StreamingResponse):
            # once: at the stream's end, or when the response is dropped without being sent
            # (a generator never started never runs its `finally`)
            done = weakref.finalize(response, self._release, server)
            response.body_iterator = _until_end(response.body_iterator, done)
        else:
            self._release(server)
        return response

    def _release(self, server: str) -> None:
        self._in_flight[server] -= 1

    def _sample(self, server: str, seconds: float) -> None:
        now = self._clock()
        measured = self._latency.get(server)
        if measured is not None and now - measured[1] < FORGET_AFTER:
            seconds = measured[0] + SMOOTHING * (seconds - measured[0])
        self._latency[server] = (seconds, now)

    def _ask(self, group: str, now: float) -> None:
        """Ask the supervisor which of `group`'s members are ready, in the background: the
        request that starts the question is ordered with what is known already."""
        last = self._asked.get(group)
        if self._states is None or (last is not None and now - last < ASK_EVERY):
            return
        self._asked[group] = now
        task = asyncio.create_task(self._learn(self._states, self._groups[group]))
        self._asking.add(task)
        task.add_done_callback(self._asked_about)

    def _asked_about(self, task: asyncio.Task[None]) -> None:
        self._asking.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("asking the supervisor about group members failed: %r", exc)

    async def _learn(self, states: States, members: Sequence[str]) -> None:
        for server in members:
            if server not in self._asked_of:
                continue
            try:
                info = await states.server(server)
            except SupervisorError:
                continue  # not known, as before: ready_now may still know it
            if info.get("state") == "ready":
                self._said_ready[server] = self._clock()
            else:
                self._said_ready.pop(server, None)

    async def aclose(self) -> None:
        """Cancel the questions still in flight (the app is stopping)."""
        tasks = list(self._asking)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _until_end(
    body: AsyncIterable[Content], done: Callable[[], Any]
) -> AsyncIterator[Content]:
    try:
        async for chunk in body:
            yield chunk
    finally:
        done()
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()
