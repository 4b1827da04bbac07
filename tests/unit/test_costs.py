"""Switch costs learned from observations (issue 16): the prior yields, bad values are refused,
and what was learned survives the state directory, even a damaged one."""

from __future__ import annotations

import json
import math

import pytest

from supervisor.costs import KINDS, MIN_STEP, Costs, Learned, SwitchTimes


def test_before_any_observation_the_estimate_is_the_prior() -> None:
    costs = Costs(SwitchTimes(start=30, wake=4, sleep=1, stop=3))
    assert [costs.estimate(k) for k in KINDS] == [30, 4, 1, 3]
    assert costs.learned("wake") == Learned(4, 0, None)
    assert Costs().estimates() == SwitchTimes()


def test_the_prior_counts_as_two_observations_then_yields() -> None:
    costs = Costs(SwitchTimes(start=60))
    costs.observe("start", 30)
    assert costs.estimate("start") == pytest.approx((2 * 60 + 30) / 3)
    costs.observe("start", 30)
    assert costs.estimate("start") == pytest.approx((2 * 60 + 30 + 30) / 4)
    assert costs.learned("start").count == 2
    assert costs.learned("start").last == 30
    assert costs.estimate("wake") == SwitchTimes().wake  # other kinds untouched


def test_the_estimate_keeps_following_a_host_that_changed() -> None:
    costs = Costs(SwitchTimes(wake=5))
    for _ in range(50):
        costs.observe("wake", 5)
    costs.observe("wake", 9)
    # a running mean would move by 4/53; the floor on the step keeps it moving by a quarter
    assert costs.estimate("wake") == pytest.approx(5 + MIN_STEP * 4)
    for _ in range(20):
        costs.observe("wake", 9)
    assert costs.estimate("wake") == pytest.approx(9, abs=0.01)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, -math.inf])
def test_a_duration_that_cannot_be_one_is_refused(bad: float) -> None:
    costs = Costs()
    with pytest.raises(ValueError, match="finite"):
        costs.observe("sleep", bad)
    assert costs.learned("sleep") == Learned(SwitchTimes().sleep)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        Costs().observe("reboot", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown kind"):
        Costs().estimate("reboot")  # type: ignore[arg-type]


def test_zero_is_a_valid_duration() -> None:
    costs = Costs(SwitchTimes(sleep=3))
    costs.observe("sleep", 0)
    assert costs.estimate("sleep") == pytest.approx(2)


def test_what_was_learned_survives_a_json_round_trip() -> None:
    priors = SwitchTimes(start=20)
    costs = Costs(priors)
    costs.observe("start", 12.5)
    costs.observe("wake", 3.25)
    back = Costs.from_dict(json.loads(json.dumps(costs.to_dict())), priors)
    assert back.to_dict() == costs.to_dict()
    assert back.learned("start") == Learned(costs.estimate("start"), 1, 12.5)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "garbage",
        [1, 2, 3],
        {},
        {"start": None, "wake": "fast"},
        {"start": {"mean": "60"}},
        {"start": {"mean": -1}},
        {"start": {"mean": math.nan}},
        {"start": {"mean": True}},
        {"start": {"mean": 10, "count": -3}},
        {"start": {"mean": 10, "count": 1.5}},
        {"start": {"mean": 10, "count": True}},
    ],
)
def test_a_damaged_state_file_falls_back_to_the_prior(data: object) -> None:
    priors = SwitchTimes(start=42)
    assert Costs.from_dict(data, priors).estimates() == priors


def test_a_damaged_entry_costs_only_that_kind() -> None:
    data = {"start": {"mean": 10, "count": 4, "last": "yesterday"}, "wake": {"mean": "x"}}
    costs = Costs.from_dict(data, SwitchTimes(start=60, wake=7))
    assert costs.learned("start") == Learned(10, 4, None)
    assert costs.estimate("wake") == 7
    costs.observe("start", 10)
    assert costs.estimate("start") == pytest.approx(10)
