"""The arithmetic of `make bench-compare`, pure: percentiles, added latency, the sustained rate.

- Percentiles interpolate linearly between the two nearest ranks (numpy's default).
- Added latency at a percentile is the path's percentile minus the direct path's, both from the
  same run, samples pooled over its rounds. Under concurrent load requests cannot be paired one
  to one, so this is a difference of distributions, not a distribution of differences.
- The sustained rate steps the concurrency up and stops at the first level whose p99 crosses the
  bound: the best throughput before that is what the path sustains with p99 under the bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

QUANTILES = (50, 95, 99)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, interpolating between ranks; NaN if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """{"n", "p50", "p95", "p99"} in the values' unit."""
    ordered = sorted(values)
    figures = {f"p{q}": percentile(ordered, q) for q in QUANTILES}
    return {"n": float(len(ordered)), **figures}


def added(path: Sequence[float], direct: Sequence[float]) -> dict[str, float]:
    """{"p50", "p95", "p99"}: the path's percentile minus the direct path's."""
    return {f"p{q}": percentile(path, q) - percentile(direct, q) for q in QUANTILES}


@dataclass(frozen=True)
class Level:
    """One concurrency level of one path: throughput and p99 latency."""

    clients: int
    rps: float
    p99_ms: float


@dataclass(frozen=True)
class Sustained:
    clients: int
    rps: float
    crossed_at: int | None  # the first level whose p99 crossed the bound; None: none did


def sustained(levels: Iterable[Level], bound_ms: float) -> Sustained | None:
    """The best req/s before p99 first crosses `bound_ms`, stepping concurrency up; None if even
    the lowest level crosses it."""
    best: Sustained | None = None
    for level in sorted(levels, key=lambda lv: lv.clients):
        if math.isnan(level.p99_ms) or level.p99_ms > bound_ms:
            return None if best is None else Sustained(best.clients, best.rps, level.clients)
        if best is None or level.rps > best.rps:
            best = Sustained(level.clients, level.rps, None)
    return best


def window(
    clients: int, last_rps: float | None, warmup: float, duration: float
) -> tuple[float, float]:
    """(warm-up, duration) in seconds for a closed-loop run of `clients`, stretched for a slow
    path so the window holds several rounds of every client: by Little's law a request takes
    clients / rps, measured at the level below (None: no estimate yet). At most 6 s and 10 s,
    so that LiteLLM's 128 clients (about 5 s a request here) keep the run within its budget."""
    if not last_rps or last_rps <= 0:
        return warmup, duration
    each = clients / last_rps
    return min(6.0, max(warmup, 1.5 * each)), min(10.0, max(duration, 4 * each))


def per_thousand(cpu_s: float, requests: int) -> float:
    """CPU seconds per 1,000 requests; NaN without requests."""
    return cpu_s * 1000 / requests if requests else math.nan
