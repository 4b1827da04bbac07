"""The policies `make sim` compares, each driving the same engine.

- `swap-on-arrival`: llama-swap's exclusive group. Requests go through one line in arrival
  order; the one at its head that wants a model not loaded evicts every other model and loads
  its own, and everything behind it waits for that.
- `lru`: Ollama's shape. A request for a loaded model is served at once; one for another model
  loads it as soon as the switcher is free, evicting the least recently used models that must
  go, in the order the requests came.
- `modelyard`: supervisor/scheduling.py deciding with supervisor/costs.py learning, the code the
  supervisor runs.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from bench.sim_engine import Engine, ModelSpec, Req
from supervisor.capacity import Eviction
from supervisor.costs import Costs, Kind, SwitchTimes
from supervisor.scheduling import (
    Fleet,
    Phase,
    Profile,
    Request,
    Resident,
    Settings,
    Waiting,
    next_load,
    predicted_wait,
)

# The config's priors are a guess: off from the truth by these factors, so the learning shows.
PRIOR_ERROR: dict[Kind, float] = {"start": 1.3, "wake": 0.7, "sleep": 1.5, "stop": 0.8}


class Policy(Protocol):
    name: str

    def arrive(self, engine: Engine, req: Req) -> None: ...

    def decide(self, engine: Engine) -> None: ...


def lru_victims(engine: Engine, name: str) -> list[str] | None:
    """The models to evict so `name` fits, least recently used first; None if it never can."""
    order = sorted(
        (r for n, r in engine.runs.items() if n != name and r.joinable),
        key=lambda r: (r.phase != "ready", r.last_used),
    )
    taken: list[str] = []
    for run in order:
        if engine.fits_with(name, taken):
            break
        taken.append(run.spec.name)
    return taken if engine.fits_with(name, taken) else None


class SwapOnArrival:
    name = "swap-on-arrival"

    def __init__(self) -> None:
        self.line: deque[Req] = deque()

    def arrive(self, engine: Engine, req: Req) -> None:
        self.line.append(req)

    def decide(self, engine: Engine) -> None:
        while self.line:
            head = self.line[0]
            if engine.runs[head.model].joinable:
                engine.join(self.line.popleft())
                continue
            if engine.switch is None:
                others = [n for n, r in engine.runs.items() if n != head.model and r.joinable]
                engine.start_switch(head.model, others, [])
            return


class Lru:
    name = "lru"

    def __init__(self) -> None:
        self.loads: deque[Req] = deque()

    def arrive(self, engine: Engine, req: Req) -> None:
        if engine.runs[req.model].joinable:
            engine.join(req)
        else:
            self.loads.append(req)

    def decide(self, engine: Engine) -> None:
        for req in [r for r in self.loads if engine.runs[r.model].joinable]:
            self.loads.remove(req)
            engine.join(req)
        if engine.switch is not None or not self.loads:
            return
        target = self.loads[0].model
        victims = lru_victims(engine, target)
        if victims is None:
            raise RuntimeError(f"{target} cannot fit on this GPU")
        mine = [r for r in self.loads if r.model == target]
        for req in mine:
            self.loads.remove(req)
        engine.start_switch(target, victims, mine)


class Modelyard:
    name = "modelyard"

    def __init__(self, specs: tuple[ModelSpec, ...], settings: Settings) -> None:
        self.settings = settings
        self.costs = {
            s.name: Costs(SwitchTimes(**{k: s.seconds(k) * f for k, f in PRIOR_ERROR.items()}))
            for s in specs
        }
        self.service = {s.name: s.service for s in specs}
        self.waiting: dict[str, list[Req]] = {s.name: [] for s in specs}
        self.last_reason = ""
        self.load_begins = 0.0  # when the load chosen last is expected to begin, evictions done

    def observe(self, name: str, kind: Kind, seconds: float) -> None:
        self.costs[name].observe(kind, seconds)

    def arrive(self, engine: Engine, req: Req) -> None:
        fleet = self.fleet(engine)
        req.predicted = predicted_wait(fleet, req.model, engine.now, self.settings).seconds
        if engine.runs[req.model].joinable:
            engine.join(req)
        else:
            self.waiting[req.model].append(req)

    def decide(self, engine: Engine) -> None:
        if engine.switch is not None:
            return
        choice = next_load(self.fleet(engine), engine.now, self.settings)
        self.last_reason = choice.reason
        if choice.load is not None:
            self.load_begins = engine.now + sum(
                self._work_s(engine, e.name) + self.costs[e.name].estimate(e.action)
                for e in choice.evict
            )
            mine, self.waiting[choice.load] = self.waiting[choice.load], []
            engine.start_switch(choice.load, [e.name for e in choice.evict], mine)

    def _work_s(self, engine: Engine, name: str) -> float:
        run = engine.runs[name]
        return (len(run.in_flight) / 2 + len(run.queue)) * self.service[name]

    def fleet(self, engine: Engine) -> Fleet:
        def room_for(name: str) -> tuple[Eviction, ...] | None:
            victims = lru_victims(engine, name)
            if victims is None:
                return None
            return tuple(
                Eviction(v, "sleep" if engine.runs[v].spec.warm else "stop") for v in victims
            )

        return Fleet(
            residents=tuple(r for n in engine.runs if (r := self._resident(engine, n))),
            waiting=tuple(
                Waiting(n, tuple(Request(r.arrival) for r in reqs))
                for n, reqs in self.waiting.items()
            ),
            profiles={n: Profile(c.estimates(), self.service[n], 1) for n, c in self.costs.items()},
            room_for=room_for,
        )

    def _resident(self, engine: Engine, name: str) -> Resident | None:
        run = engine.runs[name]
        phase: Phase
        if run.phase == "off":
            return None
        if run.phase == "pending":
            # chosen, its evictees still draining or leaving: loading from when they are gone
            sw = engine.switch
            assert sw is not None
            phase = "waking" if sw.wake else "starting"
            return Resident(name, phase, self.load_begins, 0, len(run.queue))
        if run.leaving:
            phase = "sleeping" if run.spec.warm else "stopping"
            return Resident(name, phase, run.since)
        phase = _PHASES[run.phase]
        last = run.last_used if run.last_used >= 0 else None
        return Resident(name, phase, run.since, len(run.in_flight), len(run.queue), last_used=last)


_PHASES: dict[str, Phase] = {
    p: p for p in ("ready", "starting", "waking", "sleeping", "stopping", "asleep")
}
