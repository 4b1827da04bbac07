"""Retry policy and circuit breaker: pure, with the clock and randomness passed in."""

from __future__ import annotations

import pytest

from modelyard_config.retry import CooldownSettings, RetryPolicy
from proxy.retry import (
    Breaker,
    BreakerState,
    backoff,
    blames_server,
    parse_retry_after,
    retry_here,
    status_reason,
)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(200, None), (400, None), (404, None), (429, "429"), (500, "5xx"), (503, "5xx")],
)
def test_status_reasons(status: int, reason: str | None) -> None:
    assert status_reason(status) == reason


def test_retry_here_honours_attempts_and_the_reasons_listed() -> None:
    policy = RetryPolicy(attempts=3, retry_on=["connect", "5xx"])
    assert retry_here(policy, "5xx", 1) and retry_here(policy, "5xx", 2)
    assert not retry_here(policy, "5xx", 3)  # the third attempt was the last
    assert not retry_here(policy, "429", 1)  # not listed: straight down the chain
    assert not retry_here(RetryPolicy(attempts=1), "connect", 1)


def test_backoff_grows_exponentially_to_the_cap_with_jitter_either_side() -> None:
    policy = RetryPolicy(backoff_initial=0.1, backoff_max=1.0, jitter=0.5)
    middle = [backoff(policy, n, rand=lambda: 0.5) for n in (1, 2, 3, 4, 5)]
    assert middle == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])
    assert backoff(policy, 1, rand=lambda: 0.0) == pytest.approx(0.05)
    assert backoff(policy, 1, rand=lambda: 1.0) == pytest.approx(0.15)


def test_retry_after_is_a_floor_capped_by_backoff_max() -> None:
    policy = RetryPolicy(backoff_initial=0.1, backoff_max=2.0, jitter=0)
    assert backoff(policy, 1, retry_after=1.5) == pytest.approx(1.5)
    assert backoff(policy, 1, retry_after=60) == pytest.approx(2.0)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


def test_breaker_opens_after_k_failures_in_the_window_only() -> None:
    breaker = Breaker(CooldownSettings(failures=3, window=10, period=30))
    breaker.failed(0)
    breaker.failed(5)
    breaker.failed(11)  # the first has left the window: two in it
    assert breaker.state is BreakerState.CLOSED and breaker.allow(11)
    breaker.failed(12)
    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(20) and breaker.cooling_for(20) == pytest.approx(22)


def test_half_open_lets_one_trial_through_and_its_outcome_decides() -> None:
    breaker = Breaker(CooldownSettings(failures=1, window=10, period=30))
    breaker.failed(0)
    assert not breaker.allow(29)
    assert breaker.allow(30) and breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow(30)  # only the one trial
    breaker.failed(31)  # the trial failed: open for another period
    assert breaker.state is BreakerState.OPEN and not breaker.allow(60)
    assert breaker.allow(61)
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED and breaker.allow(62)


def test_a_trial_that_never_reports_is_replaced_after_a_period() -> None:
    """A trial whose request vanished (issue: a breaker half-open until the proxy restarts)."""
    breaker = Breaker(CooldownSettings(failures=1, window=10, period=30))
    breaker.failed(0)
    assert breaker.allow(30)  # the trial, which never reports back
    assert not breaker.allow(59)  # still its turn
    assert breaker.allow(60) and breaker.state is BreakerState.HALF_OPEN  # a new trial
    assert not breaker.allow(61)


def test_an_abandoned_trial_lets_the_next_request_try_at_once() -> None:
    breaker = Breaker(CooldownSettings(failures=1, window=10, period=30))
    breaker.failed(0)
    assert breaker.allow(30)
    first = breaker.trial
    breaker.abandoned(first)  # cancelled, or ended with no verdict on the server
    assert breaker.allow(31) and breaker.trial != first
    breaker.abandoned(first)  # a stale trial's exit does not free the current one
    assert not breaker.allow(32)


def test_abandoning_a_trial_that_reported_changes_nothing() -> None:
    breaker = Breaker(CooldownSettings(failures=1, window=10, period=30))
    breaker.failed(0)
    assert breaker.allow(30)
    trial = breaker.trial
    breaker.failed(31)
    breaker.abandoned(trial)
    assert breaker.state is BreakerState.OPEN and not breaker.allow(40)
    assert breaker.allow(61)
    trial = breaker.trial
    breaker.succeeded()
    breaker.abandoned(trial)
    assert breaker.state is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("reason", "blamed"),
    [
        ("connect", True),
        ("timeout", True),
        ("5xx", True),
        ("429", True),
        ("start", True),
        ("capacity", False),  # no memory to place it
        ("ports", False),  # the supervisor's port range is used up
        ("pool", False),  # the proxy's own connection pool was full
        ("stale", False),  # a remembered address, since stopped: asked again at once
    ],
)
def test_only_the_servers_own_failures_count_against_its_breaker(reason: str, blamed: bool) -> None:
    assert blames_server(reason) is blamed


def test_a_half_open_refusal_says_to_wait_a_second_not_zero() -> None:
    """Soak finding: refusals while a trial was in flight carried no Retry-After."""
    breaker = Breaker(CooldownSettings(failures=1, window=10, period=30))
    breaker.failed(0)
    assert breaker.allow(30)  # the trial
    assert not breaker.allow(31) and breaker.cooling_for(31) == 1.0
    assert breaker.cooling_for(61) == 0.0  # the trial is presumed lost: no reason to wait
    breaker.succeeded()
    assert breaker.cooling_for(62) == 0.0
