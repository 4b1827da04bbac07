"""Per-key limits as plain data: a token bucket for requests per minute and a count of
requests in flight. Pure: the caller passes the clock's reading, so tests step time by hand.

A bucket, not a log of timestamps: O(1) memory per key whatever its rate, and a key that was
quiet may burst up to its full minute's worth, then gets one request per 60/rpm seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from modelyard_config.access import KeyLimits


class TokenBucket:
    def __init__(self, per_minute: int, now: float) -> None:
        self.capacity = float(per_minute)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now: float) -> float:
        """Spend one token: 0.0 when there was one, else the seconds until there will be."""
        elapsed = max(0.0, now - self.stamp)  # a clock that steps back refills nothing
        self.tokens = min(self.capacity, self.tokens + elapsed * self.capacity / 60.0)
        self.stamp = max(self.stamp, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) * 60.0 / self.capacity


@dataclass(frozen=True)
class Refusal:
    limit: Literal["requests_per_minute", "max_concurrent"]
    retry_after: int  # whole seconds, at least 1: what the Retry-After header says


class KeyQuota:
    """One key's limits and what it has used of them. `admit` and `release` pair up: every
    admitted request releases its slot exactly once, when its response is done."""

    def __init__(self, limits: KeyLimits, now: float) -> None:
        self.limits = limits
        rpm = limits.requests_per_minute
        self.bucket = TokenBucket(rpm, now) if rpm is not None else None
        self.in_flight = 0

    def admit(self, now: float) -> Refusal | None:
        # Concurrency first: a request turned away for it must not spend a token of the rate.
        most = self.limits.max_concurrent
        if most is not None and self.in_flight >= most:
            # When a slot frees is unknowable here; a second is a polite pause.
            return Refusal("max_concurrent", 1)
        if self.bucket is not None:
            wait = self.bucket.take(now)
            if wait > 0:
                return Refusal("requests_per_minute", max(1, math.ceil(wait)))
        self.in_flight += 1
        return None

    def release(self) -> None:
        self.in_flight -= 1
