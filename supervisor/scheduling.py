"""Which waiting model to load next, what must go for it, and how long a request will wait.

Pure policy over plain data, like `capacity.py`: the residents, the waiting requests, each
server's switch costs and service time, and the clock as a float. `capacity.py` stays the
authority on bytes: the caller passes `room_for`, which answers "who would have to go for X"
(a map's `.get` will do). The scheduler only decides *when* a switch is worth it:

- A request for a model that is ready or loading joins it; it never causes a switch.
- A switch is held while a resident it would evict has work in flight or queued *and* has been
  resident for less than `min_residency` (anti-thrash), unless a waiting request's deadline
  would be missed by waiting any longer.
- One switch at a time: while a server is starting, waking, sleeping or stopping, only loads
  that fit without evicting anything go ahead.
- Among the models that wait, the next is chosen by value against switch cost (see `value`),
  not by arrival order.
- Waiting to be worth the switch protects demand: when every server a load would evict has
  been idle for `min_residency` (or sleeps), the load goes at once.

Every answer carries a `reason` an operator can read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from supervisor.capacity import Eviction
from supervisor.costs import Kind, SwitchTimes

Phase = Literal["ready", "starting", "waking", "sleeping", "stopping", "asleep"]
_MOVING: frozenset[Phase] = frozenset({"starting", "waking", "sleeping", "stopping"})
_LOADING: frozenset[Phase] = frozenset({"starting", "waking"})
_KIND: dict[Phase, Kind] = {
    "starting": "start",
    "waking": "wake",
    "sleeping": "sleep",
    "stopping": "stop",
}

# Seconds after its last use during which a resident counts as busy for the residency window:
# longer than a request takes to go from the supervisor's answer to the engine.
JUST_USED_S = 2.0

# "Who would have to go so that this server fits": evictions in order, () when it fits as is,
# None when it cannot fit even after evicting every server that may be evicted.
RoomFor = Callable[[str], Sequence[Eviction] | None]


@dataclass(frozen=True)
class Resident:
    """A server that holds memory, is moving, or sleeps (and so wakes instead of starting)."""

    name: str
    phase: Phase
    since: float  # when it entered `phase`: became ready, began loading, fell asleep
    in_flight: int = 0
    queued: int = 0  # joined it and not yet running: waiting behind in-flight work or its load
    protected: bool = False  # pinned or hot: never evicted here (capacity says so too)
    # When it last served or was asked for; None: unknown, taken as just now. A resident idle
    # for min_residency has no demand left to protect: a load that evicts only such (or
    # sleeping) servers goes at once, without waiting to be worth the switch.
    last_used: float | None = None


@dataclass(frozen=True)
class Request:
    arrival: float
    deadline: float | None = None  # clock time by which it wants capacity; None: no limit


@dataclass(frozen=True)
class Waiting:
    """Requests for a server that is neither ready nor loading, oldest first."""

    name: str
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class Profile:
    costs: SwitchTimes = field(default_factory=SwitchTimes)
    service_s: float = 1.0  # measured mean seconds one request holds a slot
    slots: int = 1  # requests it serves at once


@dataclass(frozen=True)
class Settings:
    min_residency: float = 30.0  # seconds a busy resident is protected from eviction
    # Seconds of switch cost one request-second of waiting is worth. `make sim`: 1.0 saves more
    # swaps on the alternating trace (51% fewer than swap-on-arrival, not 43%) but loses p99 to
    # LRU on the burst and drift traces; 2.0 keeps p99 at or below LRU's on all three.
    age_weight: float = 2.0
    deadline_slack: float = 1.0  # act on a deadline this many seconds before it is too late


@dataclass(frozen=True)
class Fleet:
    residents: tuple[Resident, ...]
    waiting: tuple[Waiting, ...]
    profiles: Mapping[str, Profile]
    room_for: RoomFor

    def resident(self, name: str) -> Resident | None:
        return next((r for r in self.residents if r.name == name), None)

    def profile(self, name: str) -> Profile:
        return self.profiles.get(name) or Profile()

    def queue(self, name: str) -> tuple[Request, ...]:
        return next((w.requests for w in self.waiting if w.name == name), ())


@dataclass(frozen=True)
class Choice:
    load: str | None  # None: load nothing now
    evict: tuple[Eviction, ...]  # in order, before the load
    reason: str
    deadline: bool = False  # True: a deadline overrode the residency window or the value test


@dataclass(frozen=True)
class Prediction:
    server: str
    seconds: float  # 0: ready now with room; math.inf: cannot fit at all
    reason: str


def value(requests: Sequence[Request], now: float, settings: Settings) -> float:
    """What serving these requests is worth, in seconds, to weigh against the switch cost.

    The request-seconds they have already waited, times `age_weight`. Switching when this
    reaches the switch cost is the economic-order-quantity rule: a batch is worth its set-up
    cost once the waiting it has accumulated equals that cost, which for requests arriving at
    rate r gives batches every sqrt(2 * cost / (age_weight * r)) seconds, the interval that
    minimises set-up plus weighted waiting. The number of requests counts through the rate the
    sum grows at (a burst of ten reaches the cost ten times sooner than one request), their age
    through the sum itself, and deadlines apart, as an override: a deadline is a limit, not a
    price.
    """
    return settings.age_weight * sum(max(0.0, now - r.arrival) for r in requests)


def switch_cost(fleet: Fleet, name: str, evictions: Sequence[Eviction]) -> float:
    """Seconds of switching: each evictee's sleep or stop, then this server's wake or start."""
    own = fleet.resident(name)
    load: Kind = "wake" if own is not None and own.phase in ("asleep", "sleeping") else "start"
    out = sum(fleet.profile(e.name).costs.of(e.action) for e in evictions)
    return out + fleet.profile(name).costs.of(load)


def next_load(fleet: Fleet, now: float, settings: Settings) -> Choice:
    """The next server to load, and what to evict first; or why nothing should move now."""
    moving = [r for r in fleet.residents if r.phase in _MOVING]
    options: list[_Option] = []
    blocked: list[str] = []
    for w in fleet.waiting:
        own = fleet.resident(w.name)
        if not w.requests or (own is not None and own.phase != "asleep"):
            continue  # ready or loading: its requests join it; moving out: it comes back later
        option = _consider(fleet, w, now, settings, moving)
        if isinstance(option, str):
            blocked.append(option)
        else:
            options.append(option)
    ready = [o for o in options if o.go]
    if ready:
        best = max(ready, key=lambda o: (o.urgent, o.worth, -o.oldest, o.name))
        return Choice(best.name, best.evict, best.reason, deadline=best.urgent)
    reasons = [o.reason for o in sorted(options, key=lambda o: -o.worth)] + blocked
    return Choice(None, (), "; ".join(reasons) or "nothing waits for a load")


def predicted_wait(
    fleet: Fleet, name: str, now: float, settings: Settings, deadline: float | None = None
) -> Prediction:
    """Seconds until `name` can start one more request that arrives now.

    Ready with a free slot: 0. Ready and full: the work queued ahead. Loading: the rest of the
    load, then the queue. Otherwise: the wait for the switch to begin (a switch in progress, the
    residency window of each busy evictee, the time the waiting takes to be worth the switch,
    counting this request but no later arrivals, so it is an upper bound), the evictees' drain,
    the switch itself, then the requests waiting ahead. A deadline pulls the start forward, as
    `next_load` does.
    """
    own = fleet.resident(name)
    prof = fleet.profile(name)
    if own is not None and own.phase == "ready":
        ahead = own.in_flight + own.queued - prof.slots
        if ahead < 0:
            return Prediction(name, 0.0, f"{name} is ready with a free slot")
        wait = prof.service_s / 2 + ahead * prof.service_s / prof.slots
        return Prediction(name, wait, f"{name} is ready; {ahead + 1} ahead of this request")
    if own is not None and own.phase in _LOADING:
        rest = _ready_at(fleet, own, now) - now
        wait = rest + (own.queued // prof.slots) * prof.service_s
        return Prediction(name, wait, f"{name} is {own.phase}: {rest:.1f} s left, then its queue")
    evict = fleet.room_for(name)
    if evict is None:
        return Prediction(name, math.inf, f"{name} does not fit even after evictions")
    queue = (*fleet.queue(name), Request(now, deadline))
    cost = switch_cost(fleet, name, evict)
    parts = _start_parts(fleet, name, evict, queue, now, settings, cost)
    begin = max(parts.values(), default=now)
    if deadline is not None and deadline - cost >= now:
        begin = min(begin, max(now, deadline - cost - settings.deadline_slack))
    drain = max((_drain_s(fleet, e.name, begin, now) for e in evict), default=0.0)
    after = ((len(queue) - 1) // prof.slots) * prof.service_s
    wait = begin - now + drain + cost + after
    held = ", ".join(f"{k} {v - now:.1f} s" for k, v in parts.items() if v > now) or "none"
    return Prediction(
        name, wait, f"{name}: start in {begin - now:.1f} s ({held}), switch {cost:.1f} s"
    )


def predicted_waits(
    fleet: Fleet, chain: Sequence[str], now: float, settings: Settings
) -> list[Prediction]:
    """The prediction for each candidate of a route's chain, in the chain's order."""
    return [predicted_wait(fleet, name, now, settings) for name in chain]


@dataclass(frozen=True)
class _Option:
    name: str
    evict: tuple[Eviction, ...]
    go: bool
    urgent: bool
    worth: float  # value / cost: the ranking among those that may go
    oldest: float
    reason: str


def _consider(
    fleet: Fleet, w: Waiting, now: float, settings: Settings, moving: Sequence[Resident]
) -> _Option | str:
    found = fleet.room_for(w.name)
    if found is None:
        return f"{w.name} does not fit even after evictions"
    evict = tuple(found)
    oldest = now - min(r.arrival for r in w.requests)
    cost = switch_cost(fleet, w.name, evict)
    worth = value(w.requests, now, settings) / max(cost, 1e-9)
    if not evict:
        why = f"loading {w.name}: fits without evicting anything"
        return _Option(w.name, evict, True, False, math.inf, oldest, why)
    if moving:
        names = ", ".join(f"{r.name} {r.phase}" for r in moving)
        return f"holding {w.name}: one switch at a time ({names})"
    if _all_stale(fleet, evict, now, settings):
        names = ", ".join(e.name for e in evict)
        why = f"loading {w.name}: {names} idle for {settings.min_residency:.0f} s or more"
        return _Option(w.name, evict, True, False, worth, oldest, why + _evicting(evict))
    hold = _holds(fleet, evict, now, settings)
    urgent = _urgent(fleet, w, evict, now, settings, cost)
    if urgent is not None:
        return _Option(w.name, evict, True, True, worth, oldest, urgent)
    if hold is not None:
        return _Option(w.name, evict, False, False, worth, oldest, f"holding {w.name}: {hold}")
    val = value(w.requests, now, settings)
    summary = f"{len(w.requests)} waiting, oldest {oldest:.1f} s, value {val:.1f}"
    if val < cost:
        why = f"holding {w.name}: {summary} < switch cost {cost:.1f} s"
        return _Option(w.name, evict, False, False, worth, oldest, why)
    why = f"loading {w.name}: {summary} >= switch cost {cost:.1f} s"
    return _Option(w.name, evict, True, False, worth, oldest, why + _evicting(evict))


def _all_stale(fleet: Fleet, evict: Sequence[Eviction], now: float, settings: Settings) -> bool:
    """Every evictee asleep, or ready with no work and unused for min_residency."""
    for e in evict:
        r = fleet.resident(e.name)
        if r is None or r.phase == "asleep":
            continue
        if r.phase != "ready" or r.in_flight or r.queued or r.last_used is None:
            return False
        if now - r.last_used < settings.min_residency:
            return False
    return True


def _holds(fleet: Fleet, evict: Sequence[Eviction], now: float, settings: Settings) -> str | None:
    for e in evict:
        r = fleet.resident(e.name)
        if r is None:
            continue
        if r.phase in _MOVING:
            return f"{r.name} is {r.phase}"
        # A request handed its address a moment ago may not have reached the engine yet: a
        # server used within JUST_USED_S counts as having work, or it could be evicted under it.
        just_used = r.last_used is not None and now - r.last_used < JUST_USED_S
        work = r.in_flight + r.queued
        age = now - r.since
        if (work or just_used) and age < settings.min_residency:
            busy = (
                f"has {r.in_flight} in flight, {r.queued} queued"
                if work or r.last_used is None
                else f"was used {now - r.last_used:.1f} s ago"
            )
            return (
                f"{r.name} {busy} and has been resident {age:.0f} s "
                f"< min_residency {settings.min_residency:.0f} s"
            )
    return None


def _urgent(
    fleet: Fleet,
    w: Waiting,
    evict: Sequence[Eviction],
    now: float,
    settings: Settings,
    cost: float,
) -> str | None:
    """A deadline that can still be met if the switch starts now, and not after the slack."""
    ready = now + max((_drain_s(fleet, e.name, now, now) for e in evict), default=0.0) + cost
    for r in w.requests:
        if r.deadline is not None and ready <= r.deadline <= ready + settings.deadline_slack:
            return (
                f"deadline: loading {w.name} now, a request waiting {now - r.arrival:.1f} s "
                f"would miss its {r.deadline - r.arrival:.1f} s deadline" + _evicting(evict)
            )
    return None


def _start_parts(
    fleet: Fleet,
    name: str,
    evict: Sequence[Eviction],
    queue: Sequence[Request],
    now: float,
    settings: Settings,
    cost: float,
) -> dict[str, float]:
    """When each obstacle to starting the switch lifts, keyed by what it is."""
    if not evict:
        return {}
    parts: dict[str, float] = {}
    moving = [_ready_at(fleet, r, now) for r in fleet.residents if r.phase in _MOVING]
    if moving:
        parts["switch in progress"] = max(moving)
    for e in evict:
        r = fleet.resident(e.name)
        if r is not None and r.phase != "asleep":
            start = max(_ready_at(fleet, r, now), now)
            idle = start + _work_s(fleet, r)
            young = (start if r.phase in _LOADING else r.since) + settings.min_residency
            parts[f"{r.name} residency"] = min(idle, max(young, now))
    if _all_stale(fleet, evict, now, settings):
        return parts
    # value(t) = value(now) + age_weight * len(queue) * (t - now): when does it reach the cost?
    short = cost - value(queue, now, settings)
    if short > 0:
        parts["value"] = now + short / (settings.age_weight * len(queue))
    return parts


def _ready_at(fleet: Fleet, r: Resident, now: float) -> float:
    """When a moving server is done moving (the learned cost from when it began), not before now."""
    kind = _KIND.get(r.phase)
    if kind is None:
        return now
    return max(now, r.since + fleet.profile(r.name).costs.of(kind))


def _work_s(fleet: Fleet, r: Resident) -> float:
    """Seconds of work queued on a resident; in-flight requests are taken as half done."""
    prof = fleet.profile(r.name)
    return (r.in_flight / 2 + r.queued) * prof.service_s / prof.slots


def _drain_s(fleet: Fleet, name: str, at: float, now: float) -> float:
    """Seconds an evictee still needs at `at` to finish the work it holds now. Requests already
    handed to vLLM are finished before it sleeps or stops; it only stops taking new ones."""
    r = fleet.resident(name)
    if r is None or r.phase != "ready":
        return 0.0
    return max(0.0, _work_s(fleet, r) - (at - now))


def _evicting(evict: Sequence[Eviction]) -> str:
    return "; evicting " + ", ".join(f"{e.name} ({e.action})" for e in evict) if evict else ""
