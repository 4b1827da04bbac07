"""How long a request will wait for capacity, and when a candidate is passed over for it.

A request may say how long it will wait for a server to be ready (`x-modelyard-max-wait`;
else its route's `proxy.route_max_wait`, else `proxy.max_wait`). That figure is a budget
for the whole request, not for each candidate: a client that says 5 s means 5 s, however
long its chain. The supervisor predicts, per server, how long a request arriving now would
wait (supervisor/scheduling.py); with both, a candidate whose predicted wait is past what is
left of the budget is passed over when a later one would be ready within it, and sooner.

Pure: plain data and the clock as a float, so the decision is tested without processes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelyard_config import Config
from proxy.errors import BadRequestError

MAX_WAIT_HEADER = "x-modelyard-max-wait"
WAITED_HEADER = "x-modelyard-waited"

# Digits with an optional fraction: no sign, exponent, `inf`, `nan` or `_` (all of which
# float() takes), so what a client may send is what the README says.
_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9}")


def parse_max_wait(raw: str | None) -> float | None:
    """The seconds the header asks for; None when absent. A 400 naming the header otherwise:
    a request that meant to bound its wait must not silently run unbounded."""
    if raw is None:
        return None
    text = raw.strip()
    seconds = float(text) if _SECONDS.fullmatch(text) else 0.0
    if seconds <= 0:
        raise BadRequestError(
            f"{MAX_WAIT_HEADER} must be a positive number of seconds, such as 5 or 0.5; "
            f"got {raw[:40]!r}.",
            param=MAX_WAIT_HEADER,
        )
    return seconds


def max_wait_for(config: Config, route: str | None, asked: float | None) -> float | None:
    """The request's own figure, else its route's, else the proxy's (None: no limit here;
    the supervisor's queue_timeout bounds the wait)."""
    if asked is not None:
        return asked
    return config.proxy.route_max_wait.get(route or "", config.proxy.max_wait)


def waited(seconds: float) -> str:
    """The `x-modelyard-waited` value: seconds with three decimals."""
    return f"{seconds:.3f}"


@dataclass(frozen=True)
class Wait:
    """The supervisor's prediction for one server, as GET /waits gives it."""

    server: str
    ready: bool  # it can take a request now
    seconds: float | None  # None: it cannot fit at all
    reason: str

    @classmethod
    def of(cls, answer: Mapping[str, Any]) -> Wait:
        seconds = answer.get("seconds")
        return cls(
            server=str(answer["server"]),
            ready=bool(answer.get("ready")),
            seconds=None if seconds is None else float(seconds),
            reason=str(answer.get("reason", "")),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "ready": self.ready,
            "seconds": self.seconds,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Predictions:
    """One answer from the supervisor, and when it was given: a prediction ages as the
    request waits, so what is left of it is what counts."""

    waits: Mapping[str, Wait]
    asked_at: float

    @classmethod
    def of(cls, waits: Sequence[Wait], now: float) -> Predictions:
        return cls({w.server: w for w in waits}, now)

    def ready(self, server: str) -> bool:
        wait = self.waits.get(server)
        return wait is not None and wait.ready

    def left(self, server: str, now: float) -> float | None:
        """Seconds until `server` takes a request: 0 ready, math.inf never, None unknown."""
        wait = self.waits.get(server)
        if wait is None:
            return None
        if wait.ready:
            return 0.0
        if wait.seconds is None:
            return math.inf
        return max(0.0, wait.seconds - (now - self.asked_at))


@dataclass(frozen=True)
class Go:
    limit: float  # seconds to wait for this candidate's capacity at most


@dataclass(frozen=True)
class PassOver:
    detail: str  # why, for x-modelyard-tried and the 503's message
    predicted: float | None  # seconds left of its prediction (inf: never), for Retry-After


def decide(
    server: str,
    later: Sequence[str],
    known: Predictions | None,
    max_wait: float,
    spent: float,
    now: float,
) -> Go | PassOver:
    """Whether to wait for `server` (and how long at most) or pass it over.

    `later`: the candidates after it that may still be tried (not cooling down). `spent`:
    seconds this request has waited for capacity so far. Without predictions (the supervisor
    could not say) nothing is passed over for a prediction, only for a budget spent.
    """
    if known is not None and known.ready(server):
        # Predicted ready: no wait is expected. The full max wait bounds a prediction gone
        # stale, even when the budget went on an earlier candidate.
        return Go(max_wait)
    own = known.left(server, now) if known is not None else None
    left = max_wait - spent
    if left <= 0:
        return PassOver(f"max wait {max_wait:g} s spent", own)
    if known is None or own is None or own <= left:
        return Go(left)
    sooner = [s for s in later if (w := known.left(s, now)) is not None and w <= left and w < own]
    if not sooner:
        return Go(left)  # no better place: wait here, as long as the budget allows
    return PassOver(_over(known, server, own, left, max_wait), own)


def _over(known: Predictions, server: str, own: float, left: float, max_wait: float) -> str:
    if math.isinf(own):
        return f"cannot fit: {known.waits[server].reason}"
    if left < max_wait:
        return f"predicted {math.ceil(own)} s > {left:.1f} s left of max wait {max_wait:g} s"
    return f"predicted {math.ceil(own)} s > max wait {max_wait:g} s"
