"""A request's max wait for capacity (issue 16): the header, its precedence over the route's
and the proxy's figures, and the pure decision to pass a candidate over for it."""

from __future__ import annotations

import math
from typing import Any

import pytest

from modelyard_config import ConfigError, parse_config
from proxy.errors import BadRequestError
from proxy.waits import (
    MAX_WAIT_HEADER,
    Go,
    PassOver,
    Predictions,
    Wait,
    decide,
    max_wait_for,
    parse_max_wait,
    waited,
)


def config(**proxy: Any) -> Any:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": proxy,
            "servers": {"a": {"model": "m"}, "b": {"model": "m"}},
            "routes": {"agent": ["a", "b"], "solo": ["a"]},
        }
    )


# -- the header -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"), [("5", 5.0), ("0.5", 0.5), (" 12.25 ", 12.25), (".5", 0.5), ("3.", 3.0)]
)
def test_the_header_takes_plain_positive_seconds(raw: str, seconds: float) -> None:
    assert parse_max_wait(raw) == seconds


def test_no_header_is_no_limit_of_its_own() -> None:
    assert parse_max_wait(None) is None


@pytest.mark.parametrize("raw", ["", "0", "0.0", "-1", "five", "1e3", "inf", "nan", "1_0", "5s"])
def test_a_malformed_header_is_a_400_naming_it(raw: str) -> None:
    with pytest.raises(BadRequestError) as info:
        parse_max_wait(raw)
    error = info.value.body()["error"]
    assert info.value.status == 400
    assert error["param"] == MAX_WAIT_HEADER
    assert error["type"] == "invalid_request_error"
    assert MAX_WAIT_HEADER in error["message"]


def test_waited_has_three_decimals() -> None:
    assert (waited(0), waited(2.0), waited(1.23456)) == ("0.000", "2.000", "1.235")


# -- precedence: the header, the route's, the proxy's ---------------------------------------


def test_the_header_wins_over_the_route_which_wins_over_the_proxy() -> None:
    both = config(max_wait=30, route_max_wait={"agent": 5})
    assert max_wait_for(both, "agent", 2.5) == 2.5
    assert max_wait_for(both, "agent", None) == 5
    assert max_wait_for(both, "solo", None) == 30  # a route without its own figure
    assert max_wait_for(both, None, None) == 30  # `model` named a server: no route


def test_no_figure_anywhere_is_no_limit() -> None:
    assert max_wait_for(config(), "agent", None) is None
    assert max_wait_for(config(route_max_wait={"agent": 5}), "solo", None) is None


def test_route_max_wait_for_an_unknown_route_fails_at_load() -> None:
    with pytest.raises(ConfigError) as info:
        config(route_max_wait={"chat": 5})
    assert info.value.problems == [("proxy.route_max_wait.chat", "unknown route 'chat'")]


@pytest.mark.parametrize("bad", [{"max_wait": 0}, {"route_max_wait": {"agent": -1}}])
def test_a_max_wait_must_be_positive(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        config(**bad)


# -- passing a candidate over -----------------------------------------------------------------


def predictions(now: float = 100.0, **seconds: float | None) -> Predictions:
    """`name=0`: ready; a number: predicted seconds; None: cannot fit."""
    waits = [Wait(name, s == 0, s, f"{name}: why") for name, s in seconds.items()]
    return Predictions.of(waits, now)


def test_a_primary_predicted_past_the_max_wait_is_passed_over_for_a_ready_one() -> None:
    known = predictions(a=42.0, b=0)
    decision = decide("a", ["b"], known, max_wait=5, spent=0, now=100.0)
    assert decision == PassOver("predicted 42 s > max wait 5 s", 42.0)


def test_a_later_one_predicted_within_the_max_wait_and_sooner_is_reason_enough() -> None:
    assert isinstance(decide("a", ["b"], predictions(a=60.0, b=3.0), 5, 0, 100.0), PassOver)


def test_a_primary_within_the_max_wait_is_waited_for_with_the_budget_as_bound() -> None:
    assert decide("a", ["b"], predictions(a=2.0, b=0), 5, 0, 100.0) == Go(5)
    assert decide("a", ["b"], predictions(a=2.0, b=0), 5, 1.5, 100.0) == Go(3.5)


def test_no_later_one_ready_within_the_max_wait_means_waiting_here() -> None:
    """Nothing better down the chain: this one is the best bet, for what the budget allows."""
    assert decide("a", ["b"], predictions(a=60.0, b=30.0), 5, 0, 100.0) == Go(5)
    assert decide("a", [], predictions(a=60.0), 5, 0, 100.0) == Go(5)


def test_a_later_one_that_is_not_sooner_is_no_reason() -> None:
    assert decide("a", ["b"], predictions(a=6.0, b=6.0), 5, 0, 100.0) == Go(5)


def test_a_server_that_cannot_fit_is_passed_over_and_says_why() -> None:
    decision = decide("a", ["b"], predictions(a=None, b=0), 5, 0, 100.0)
    assert isinstance(decision, PassOver)
    assert decision.detail == "cannot fit: a: why" and decision.predicted == math.inf


def test_a_ready_prediction_goes_with_the_full_max_wait_even_with_the_budget_spent() -> None:
    """The budget went on an earlier candidate; a ready fallback must still be tried."""
    assert decide("b", [], predictions(a=60.0, b=0), 5, spent=5, now=100.0) == Go(5)


def test_a_spent_budget_passes_over_what_is_not_ready() -> None:
    decision = decide("b", [], predictions(b=2.0), 5, spent=5.2, now=100.0)
    assert decision == PassOver("max wait 5 s spent", 2.0)
    assert decide("b", [], None, 5, spent=5.2, now=100.0) == PassOver("max wait 5 s spent", None)


def test_without_predictions_nothing_is_passed_over_for_a_prediction() -> None:
    assert decide("a", ["b"], None, 5, 0, 100.0) == Go(5)
    # a server the answer did not cover is not known either
    assert decide("a", ["b"], predictions(b=0), 5, 0, 100.0) == Go(5)


def test_a_prediction_ages_as_the_request_waits() -> None:
    """Asked at 100 s: at 103 s, 'b in 6 s' is 'b in 3 s', within the 4 s left of 5."""
    known = predictions(now=100.0, a=60.0, b=6.0)
    assert decide("a", ["b"], known, 5, spent=0, now=100.0) == Go(5)
    decision = decide("a", ["b"], known, 5, spent=1, now=103.0)
    assert decision == PassOver("predicted 57 s > 4.0 s left of max wait 5 s", 57.0)
    assert known.left("b", 200.0) == 0.0 and known.left("c", 100.0) is None
