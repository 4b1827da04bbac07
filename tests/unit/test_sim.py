"""`make sim` on a short alternating trace (issue 16): the scheduler the supervisor runs swaps
less than swap-on-arrival without a worse tail, and every request is served. Behaviour, not
figures: the numbers themselves are what `make sim` prints."""

from __future__ import annotations

import math

import pytest

from bench.sim import Result, percentile, simulate, verdict
from bench.sim_policies import Lru, Modelyard, Policy, SwapOnArrival
from bench.sim_traces import alternating, drift
from supervisor.scheduling import Settings

SEED = 7


@pytest.fixture(scope="module")
def short() -> dict[str, Result]:
    trace = alternating(SEED, duration=900)
    runs: list[Policy] = [SwapOnArrival(), Lru(), Modelyard(trace.models, Settings())]
    return {p.name: simulate(trace, p, SEED) for p in runs}


def test_modelyard_swaps_less_than_swap_on_arrival_without_a_worse_p99(
    short: dict[str, Result],
) -> None:
    soa, ours = short["swap-on-arrival"], short["modelyard"]
    assert ours.requests == soa.requests > 40
    assert ours.swaps < soa.swaps
    assert ours.p99 <= soa.p99
    assert ours.serving > soa.serving


def test_only_modelyard_predicts_and_most_predictions_are_close(short: dict[str, Result]) -> None:
    assert short["swap-on-arrival"].predicted is None and short["lru"].predicted is None
    assert (short["modelyard"].predicted or 0) > 0.5


def test_the_verdict_names_the_targets(short: dict[str, Result]) -> None:
    line = verdict(list(short.values()))
    assert "fewer swaps than swap-on-arrival" in line and "±25%" in line


def test_a_trace_is_the_same_for_the_same_seed() -> None:
    assert drift(3, duration=300) == drift(3, duration=300)
    assert alternating(3, duration=300) != alternating(4, duration=300)


def test_every_request_is_served_under_every_policy_on_a_busy_trace() -> None:
    trace = drift(SEED, duration=300)
    policies: list[Policy] = [SwapOnArrival(), Lru(), Modelyard(trace.models, Settings())]
    for policy in policies:
        result = simulate(trace, policy, SEED)
        assert result.requests == len(trace.requests)
        assert math.isfinite(result.p99)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 99) == 5.0
    assert math.isnan(percentile([], 50))
