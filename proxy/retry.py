"""Retry policy and the circuit breaker: pure, clock and randomness passed in, so both are
tested without processes or sleeps.

A failure has a reason: `connect` (refused or reset before an answer), `timeout` (no first
byte in time), `5xx`, `429` (honouring its Retry-After), `start` (the supervisor could not
start the server), and four that are not the server's fault, so never count against its
breaker: `capacity` (no memory to place it), `ports` (the supervisor's port range is used
up), `pool` (the proxy's own connection pool stayed full until the deadline) and `stale` (a
remembered address that no longer answers: the supervisor is asked again, at once). A 4xx
other than 429 is the request's fault: never retried, passed through. Only the reasons a
policy lists are retried on the same server; every failure moves down the chain once the
server's attempts are spent.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from modelyard_config.retry import CooldownSettings, RetryPolicy


def status_reason(status: int) -> str | None:
    """The failure an HTTP status is, or None for a success (or a 4xx to pass through)."""
    if status == 429:
        return "429"
    if status >= 500:
        return "5xx"
    return None


_NOT_THE_SERVERS_FAULT = frozenset({"capacity", "ports", "pool", "stale"})


def blames_server(reason: str) -> bool:
    """Whether a failure counts against the server's breaker."""
    return reason not in _NOT_THE_SERVERS_FAULT


def retry_here(policy: RetryPolicy, reason: str, attempt: int) -> bool:
    """Whether to try the same server again after failing attempt number `attempt` (1-based)."""
    return attempt < policy.attempts and reason in policy.retry_on


def backoff(
    policy: RetryPolicy,
    attempt: int,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before attempt `attempt + 1`: exponential, capped, with jitter so that
    many clients retrying together do not arrive together; a 429's Retry-After is a floor
    (capped by backoff_max, so that a long Retry-After moves down the chain instead)."""
    base = min(policy.backoff_max, policy.backoff_initial * 2.0 ** (attempt - 1))
    wait = base * (1 + policy.jitter * (2 * rand() - 1))
    if retry_after is not None:
        wait = max(wait, min(retry_after, policy.backoff_max))
    return max(0.0, wait)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from model servers; the backoff applies


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    """One server's circuit: closed (serving), open (skipped until `reopens_at`), half-open
    (one trial request in flight; its outcome closes or reopens the circuit).

    A trial can end with no verdict: its client went away, it failed for a reason that is not
    the server's fault, or an error nobody expected cut it short. Its caller then says so
    (`abandoned`), and a trial that never reports at all is presumed lost after a `period`:
    either way the next request becomes the trial, so the circuit is never half-open for good.
    """

    settings: CooldownSettings
    failures: deque[float] = field(default_factory=deque)
    state: BreakerState = BreakerState.CLOSED
    reopens_at: float = 0.0
    trial: int = 0  # trials begun: names the one in flight, so a stale one cannot free it
    trial_until: float | None = None  # when the trial in flight is presumed lost

    def allow(self, now: float) -> bool:
        if self.state is BreakerState.OPEN and now >= self.reopens_at:
            self.state = BreakerState.HALF_OPEN
            return self._begin_trial(now)
        if self.state is BreakerState.HALF_OPEN:
            if self.trial_until is None or now >= self.trial_until:
                return self._begin_trial(now)
            return False
        return self.state is BreakerState.CLOSED

    def succeeded(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures.clear()
        self.trial_until = None

    def failed(self, now: float) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        self.failures.append(now)
        while self.failures and self.failures[0] <= now - self.settings.window:
            self.failures.popleft()
        if len(self.failures) >= self.settings.failures:
            self._open(now)

    def abandoned(self, trial: int) -> None:
        """Trial number `trial` ended without a verdict: the next request may be the trial.
        A no-op once that trial has reported, or been replaced by a later one."""
        if self.state is BreakerState.HALF_OPEN and trial == self.trial:
            self.trial_until = None

    def cooling_for(self, now: float) -> float:
        """How long a caller refused now should wait. Half-open with a trial in flight, the
        verdict comes with that one request, so the shortest wait a Retry-After can say (1 s)
        is the honest one; a refusal with no wait at all would have clients retry at once."""
        if self.state is BreakerState.OPEN:
            return max(0.0, self.reopens_at - now)
        if self.state is BreakerState.HALF_OPEN and self.trial_until is not None:
            return 1.0 if now < self.trial_until else 0.0
        return 0.0

    def _begin_trial(self, now: float) -> bool:
        self.trial += 1
        self.trial_until = now + self.settings.period
        return True

    def _open(self, now: float) -> None:
        self.state = BreakerState.OPEN
        self.reopens_at = now + self.settings.period
        self.failures.clear()
        self.trial_until = None
