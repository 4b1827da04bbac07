"""The models and request traces of `make sim`, generated from a fixed seed.

Switch costs are of the order measured for 7-14B models with vLLM's sleep mode (wake from host
RAM in seconds, a cold start in tens of seconds); sizes put them on a 24 GiB GPU where the two
7B models never fit together, and the 1B one fits beside either.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from bench.sim_engine import ModelSpec, Req

GPU_GIB = 24.0
CHAT = ModelSpec("chat-7b", 14, start=40, wake=5, sleep=2, stop=4, service=1.5)
CODE = ModelSpec("code-7b", 14, start=45, wake=6, sleep=2, stop=4, service=2.0)
SMALL = ModelSpec("small-1b", 4, start=15, wake=2, sleep=1, stop=2, service=0.5)
BIG = ModelSpec("big-14b", 20, start=90, wake=10, sleep=3, stop=6, service=3.0, warm=False)
MODELS = (CHAT, CODE, SMALL, BIG)


@dataclass(frozen=True)
class Trace:
    name: str
    about: str
    models: tuple[ModelSpec, ...]
    requests: tuple[Req, ...]


def alternating(seed: int, duration: float = 3600, gap: float = 12.0) -> Trace:
    """Two models requested strictly in turn (an agent that plans with one and codes with the
    other), Poisson arrivals `gap` seconds apart on average: every arrival wants the other one."""
    rng = random.Random(seed)
    models = (CHAT, CODE)
    t, i, out = 0.0, 0, []
    while (t := t + rng.expovariate(1 / gap)) < duration:
        out.append(_req(rng, models[i % 2], t))
        i += 1
    return Trace("alternating", f"2 models in turn, 1 request / {gap:.0f} s", models, tuple(out))


def burst(seed: int, duration: float = 3600) -> Trace:
    """A quiet background on all four models, and every ~90 s a burst of 3-10 requests for one
    of them inside 5 s (a batch job, a user pasting a list)."""
    rng = random.Random(seed)
    out = [_req(rng, rng.choice(MODELS), t) for t in _poisson(rng, duration, 40.0)]
    for start in _poisson(rng, duration, 90.0):
        model = rng.choice(MODELS)
        out += [_req(rng, model, start + rng.uniform(0, 5)) for _ in range(rng.randint(3, 10))]
    return Trace("burst", "4 models, bursts of 3-10 every ~90 s", MODELS, _sorted(out))


def drift(seed: int, duration: float = 3600, period: float = 1200.0) -> Trace:
    """Popularity that shifts: each model's share follows a cosine a quarter-period apart from
    the next, so the favourite changes every `period` / 4 seconds and the tail never vanishes."""
    rng = random.Random(seed)
    out = []
    for t in _poisson(rng, duration, 8.0):
        phase = t / period
        weights = [1.2 + math.cos(2 * math.pi * (phase - i / 4)) for i in range(len(MODELS))]
        out.append(_req(rng, rng.choices(MODELS, weights)[0], t))
    return Trace("drift", "4 models, the favourite shifts every 5 min", MODELS, _sorted(out))


def _poisson(rng: random.Random, duration: float, gap: float) -> list[float]:
    times, t = [], 0.0
    while (t := t + rng.expovariate(1 / gap)) < duration:
        times.append(t)
    return times


def _req(rng: random.Random, model: ModelSpec, t: float) -> Req:
    return Req(model.name, t, model.service * rng.uniform(0.7, 1.3))


def _sorted(reqs: Sequence[Req]) -> tuple[Req, ...]:
    return tuple(sorted(reqs, key=lambda r: r.arrival))
