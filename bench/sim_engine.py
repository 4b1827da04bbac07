"""The simulated GPU box behind `make sim`: a virtual clock, models that load, serve and leave.

No processes: a model is a record with a phase, a queue and the times its switches really take
(the spec, jittered). Policies decide; the engine carries out their decisions the same way for
every policy, so the figures differ only by policy:

- one switch at a time (drain the evictees, sleep or stop them in turn, then wake or start);
- an evictee takes no new requests once chosen, but finishes what it already holds;
- each model serves one request at a time (slots = 1): the worst case for queueing, and the
  shape of one user's agent; vLLM's batching would shorten service, not switches.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from supervisor.costs import Kind

SLOTS = 1
HOLDS = frozenset({"ready", "pending", "starting", "waking"})  # phases that hold GPU memory


@dataclass(frozen=True)
class ModelSpec:
    name: str
    gib: float
    start: float  # seconds, the mean of the truth the engine draws from
    wake: float
    sleep: float
    stop: float
    service: float  # mean seconds per request
    warm: bool = True  # warm: evicted by sleep (and woken); cold: stopped (and started)

    def seconds(self, kind: Kind) -> float:
        value: float = getattr(self, kind)
        return value


@dataclass
class Req:
    model: str
    arrival: float
    service: float
    predicted: float | None = None
    started: float | None = None


@dataclass
class Run:
    """One model's live state in the engine."""

    spec: ModelSpec
    phase: str = "off"  # off, asleep, pending, starting, waking, ready, sleeping, stopping
    since: float = 0.0
    queue: deque[Req] = field(default_factory=deque)
    in_flight: list[tuple[float, Req]] = field(default_factory=list)  # (ends at, request)
    last_used: float = -1.0
    leaving: bool = False  # chosen for eviction: admits nothing new

    @property
    def joinable(self) -> bool:
        return self.phase in HOLDS and not self.leaving


@dataclass
class Switch:
    target: str
    evictees: list[str]
    wake: bool  # the target sleeps (wake) rather than being off (start)
    step: str = "drain"  # drain, evict, load
    until: float = 0.0
    took: list[tuple[str, Kind, float]] = field(default_factory=list)  # told when the step ends


Observer = Callable[[str, Kind, float], None]


class Engine:
    def __init__(self, specs: Sequence[ModelSpec], gpu_gib: float, seed: int) -> None:
        self.gpu_gib = gpu_gib
        # The box has been up a while: each warm model was started once and sleeps, as the
        # supervisor leaves them; cold ones are off. Cold starts at t=0 would only add noise.
        self.runs = {s.name: Run(s, "asleep" if s.warm else "off") for s in specs}
        self.switch: Switch | None = None
        self.now = 0.0
        self.swaps = 0
        self.serving_s = 0.0
        self.switching_s = 0.0
        self.done: list[Req] = []
        self.observers: list[Observer] = []
        self._rng = random.Random(seed)

    # What policies may ask and do.

    def holding(self) -> float:
        return sum(r.spec.gib for r in self.runs.values() if r.joinable)

    def fits_with(self, name: str, evictees: Sequence[str]) -> bool:
        freed = sum(self.runs[e].spec.gib for e in evictees)
        return self.holding() - freed + self.runs[name].spec.gib <= self.gpu_gib

    def join(self, req: Req) -> None:
        run = self.runs[req.model]
        assert run.joinable, f"{req.model} is {run.phase}"
        run.queue.append(req)
        run.last_used = self.now
        self._fill(run)

    def start_switch(self, target: str, evictees: Sequence[str], waiting: list[Req]) -> None:
        """Begin a switch; `waiting` (the target's requests) joins the target at once."""
        assert self.switch is None
        for name in evictees:
            self.runs[name].leaving = True
        run = self.runs[target]
        wake = run.phase == "asleep"
        run.phase, run.since = "pending", self.now
        for req in waiting:
            self.join(req)
        if evictees:
            self.swaps += 1
        self.switch = Switch(target, list(evictees), wake)
        self._advance_switch()

    # The clock.

    def next_event(self) -> float:
        ends = [end for r in self.runs.values() for end, _ in r.in_flight]
        if self.switch is not None and self.switch.step != "drain":
            ends.append(self.switch.until)
        return min(ends, default=float("inf"))

    def advance(self, to: float) -> None:
        """Move the clock to `to`, finishing whatever ends on the way, in order."""
        while True:
            at = self.next_event()
            if at > to:
                break
            self._account(at)
            self._finish(at)
            self._advance_switch()
        self._account(to)

    def _account(self, to: float) -> None:
        span = to - self.now
        if span <= 0:
            return
        if any(r.in_flight for r in self.runs.values()):
            self.serving_s += span
        elif self.switch is not None and self.switch.step != "drain":
            self.switching_s += span
        self.now = to

    def _finish(self, at: float) -> None:
        for run in self.runs.values():
            ended = [x for x in run.in_flight if x[0] <= at]
            if ended:
                run.in_flight = [x for x in run.in_flight if x[0] > at]
                self._fill(run)
        sw = self.switch
        if sw is not None and sw.step != "drain" and sw.until <= at:
            self._step_done(sw)

    def _fill(self, run: Run) -> None:
        if run.phase != "ready":
            return
        while run.queue and len(run.in_flight) < SLOTS:
            req = run.queue.popleft()
            req.started = self.now
            run.in_flight.append((self.now + req.service, req))
            self.done.append(req)
            run.last_used = self.now

    def _advance_switch(self) -> None:
        sw = self.switch
        if sw is None or sw.step != "drain":
            return
        if any(self.runs[e].in_flight or self.runs[e].queue for e in sw.evictees):
            return
        sw.step = "evict"
        total = 0.0
        for name in sw.evictees:
            run = self.runs[name]
            kind: Kind = "sleep" if run.spec.warm else "stop"
            took = self._draw(run.spec, kind)
            sw.took.append((name, kind, took))
            run.phase = "sleeping" if run.spec.warm else "stopping"
            run.since = self.now
            total += took
        sw.until = self.now + total
        if not sw.evictees:
            self._step_done(sw)

    def _step_done(self, sw: Switch) -> None:
        for name, done, took in sw.took:
            for observe in self.observers:
                observe(name, done, took)
        sw.took.clear()
        if sw.step == "evict":
            for name in sw.evictees:
                run = self.runs[name]
                run.phase = "asleep" if run.spec.warm else "off"
                run.since, run.leaving = self.now, False
            run = self.runs[sw.target]
            kind: Kind = "wake" if sw.wake else "start"
            run.phase = "waking" if sw.wake else "starting"
            run.since = self.now
            took = self._draw(run.spec, kind)
            sw.took.append((sw.target, kind, took))
            sw.step, sw.until = "load", self.now + took
        else:
            run = self.runs[sw.target]
            run.phase, run.since = "ready", self.now
            self.switch = None
            self._fill(run)

    def _draw(self, spec: ModelSpec, kind: Kind) -> float:
        return spec.seconds(kind) * self._rng.uniform(0.85, 1.15)
