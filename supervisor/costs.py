"""What switching a server costs, in seconds, learned from what the supervisor observes.

Four kinds of switch: `start` (cold start to ready), `wake` (asleep to ready), `sleep` (ready to
asleep) and `stop`. Each begins at a prior from the config and moves towards what is measured.
Pure data: the owner of a server calls `observe` after a switch and hands `estimates()` to the
scheduler; `to_dict`/`from_dict` keep the learning across restarts in the state directory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, TypeGuard, get_args

Kind = Literal["start", "wake", "sleep", "stop"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# The prior counts as this many observations. A config prior is a guess that is often off by a
# factor of two or more (page cache warm or cold, a CUDA graph capture), so two real
# measurements should outweigh it; yet the first start after boot is the slowest one a server
# will ever have, and one outlier should not erase the prior: (2 * prior + x) / 3.
PRIOR_WEIGHT = 2.0
# Once there are enough observations, each new one still moves the estimate by at least this
# much: a plain running mean would stop following a host whose disk or load has changed. About
# the last seven switches carry the estimate.
MIN_STEP = 0.25


@dataclass(frozen=True)
class SwitchTimes:
    """Seconds per kind of switch: the priors from the config, or a snapshot of the estimates."""

    start: float = 60.0  # a 7-8B model from page cache with CUDA graphs; minutes from cold disk
    wake: float = 5.0  # vLLM sleep level 1: weights back from pinned host RAM
    sleep: float = 2.0  # weights out to host RAM
    stop: float = 5.0  # SIGTERM, vLLM's shutdown, the CUDA context released

    def of(self, kind: Kind) -> float:
        seconds: float = getattr(self, kind)
        return seconds


@dataclass(frozen=True)
class Learned:
    """One kind's state: the estimate, how many observations made it, the last one seen."""

    mean: float
    count: int = 0
    last: float | None = None


class Costs:
    """The switch costs of one server. Mutable on purpose: one owner (the server's) observes."""

    def __init__(self, priors: SwitchTimes | None = None) -> None:
        self.priors = priors or SwitchTimes()
        self._learned: dict[Kind, Learned] = {k: Learned(self.priors.of(k)) for k in KINDS}

    def observe(self, kind: Kind, seconds: float) -> None:
        """Fold one measured switch into the estimate.

        The step is 1 / (PRIOR_WEIGHT + n) for the n-th observation, which makes the first few
        an exact weighted mean of prior and measurements, and never below MIN_STEP after, so it
        becomes an exponentially weighted mean that keeps following the host.
        """
        _check_kind(kind)
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"a {kind} duration must be a finite number >= 0, got {seconds!r}")
        old = self._learned[kind]
        count = old.count + 1
        step = max(1.0 / (PRIOR_WEIGHT + count), MIN_STEP)
        self._learned[kind] = Learned(old.mean + step * (seconds - old.mean), count, seconds)

    def estimate(self, kind: Kind) -> float:
        _check_kind(kind)
        return self._learned[kind].mean

    def learned(self, kind: Kind) -> Learned:
        _check_kind(kind)
        return self._learned[kind]

    def estimates(self) -> SwitchTimes:
        """A frozen snapshot for the scheduler, which must not see the numbers move mid-decision."""
        return SwitchTimes(**{k: self._learned[k].mean for k in KINDS})

    def to_dict(self) -> dict[str, dict[str, float | int | None]]:
        return {
            k: {"mean": v.mean, "count": v.count, "last": v.last} for k, v in self._learned.items()
        }

    @classmethod
    def from_dict(cls, data: object, priors: SwitchTimes | None = None) -> Costs:
        """Costs as saved by `to_dict`; any entry missing or malformed falls back to the prior.

        A state file from an older version or a crash mid-write must not stop the supervisor:
        losing what was learned about one kind costs a few imprecise predictions, nothing more.
        """
        costs = cls(priors)
        if not isinstance(data, Mapping):
            return costs
        for kind in KINDS:
            entry = data.get(kind)
            if isinstance(entry, Mapping) and (learned := _parse(entry)) is not None:
                costs._learned[kind] = learned
        return costs


def _parse(entry: Mapping[object, object]) -> Learned | None:
    mean, count, last = entry.get("mean"), entry.get("count", 0), entry.get("last")
    if not _seconds(mean) or isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return None
    if not _seconds(last):
        last = None
    return Learned(float(mean), count, None if last is None else float(last))


def _seconds(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown kind of switch {kind!r}; expected one of {', '.join(KINDS)}")
