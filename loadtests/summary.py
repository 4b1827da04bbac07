"""The tables a run prints, computed from its request log and samples (pure: rows in, Markdown
out, so the terminal and docs/benchmarks.md show the same thing)."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence

from loadtests.mix import Entry
from loadtests.outcomes import hops
from loadtests.request_log import Row
from loadtests.sampler import Sample

Table = list[list[str]]


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table whose columns line up in a terminal too."""
    body = [list(header), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in body) for i in range(len(header))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in body
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def percentile(values: Sequence[float], pct: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"  # NaN: nothing served


def served_by(rows: Sequence[Row]) -> str:
    counts = Counter(r.model for r in rows if r.outcome == "ok" and r.model)
    total = sum(counts.values())
    return ", ".join(f"{m} {n / total:.0%}" for m, n in counts.most_common(2)) if total else "-"


def per_entry(rows: Sequence[Row], entries: Sequence[Entry]) -> str:
    table: Table = []
    for entry in entries:
        mine = [r for r in rows if r.entry == entry.name]
        served = [r.ms for r in mine if r.outcome == "ok"]
        count = Counter(r.outcome for r in mine)
        table.append(
            [
                entry.name,
                str(entry.weight),
                f"{len(mine):,}",
                str(count["failed"]),
                str(count["designed"]),
                str(count["stream_error"]),
                *(_ms(percentile(served, p)) for p in (50, 95, 99)),
                served_by(mine),
            ]
        )
    header = ["entry", "weight", "requests", "failed", "designed 429/503", "stream errors"]
    return markdown([*header, "p50 ms", "p95 ms", "p99 ms", "served by"], table)


def totals(rows: Sequence[Row], seconds: float) -> dict[str, float]:
    count = Counter(r.outcome for r in rows)
    n = len(rows)
    return {
        "requests": n,
        "seconds": seconds,
        "req_per_s": n / seconds if seconds else 0.0,
        "failed": count["failed"],
        "designed": count["designed"],
        "stream_errors": count["stream_error"],
        "error_rate": count["failed"] / n if n else 0.0,
    }


def failures(rows: Sequence[Row], limit: int = 10) -> str:
    """The commonest reasons for failures, with the entry they hit."""
    bad = (r for r in rows if r.outcome in ("failed", "stream_error"))
    reasons = Counter((r.entry, r.detail or str(r.status)) for r in bad)
    return markdown(
        ["entry", "why", "count"],
        ([e, d[:90], str(n)] for (e, d), n in reasons.most_common(limit)),
    )


def _by_role(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    roles: dict[str, list[Sample]] = {}
    for s in samples:
        roles.setdefault(s.role, []).append(s)
    return roles


def processes(samples: Sequence[Sample], requests: int) -> str:
    table: Table = []
    for role, series in _by_role(samples).items():
        if role == "host":
            continue
        rss = [s.rss_mb for s in series]
        cpu = series[-1].cpu_s - series[0].cpu_s if role != "servers" else float("nan")
        per_k = cpu / requests * 1000 if requests and cpu == cpu else float("nan")
        fds = [s.fds for s in series]
        table.append(
            [
                role if role != "servers" else f"model servers ({series[-1].threads} processes)",
                f"{rss[0]:,.0f} / {max(rss):,.0f} / {rss[-1]:,.0f}",
                "-" if cpu != cpu else f"{cpu:,.1f}",
                "-" if per_k != per_k else f"{per_k:.2f}",
                "-" if role == "servers" else f"{fds[0]} / {max(fds)} / {fds[-1]}",
            ]
        )
    header = ["process", "RSS MB start / max / end", "CPU s", "CPU s per 1,000 req"]
    return markdown([*header, "open FDs start / max / end"], table)


def host_cpu(samples: Sequence[Sample]) -> float:
    busy = [s.cpu_s for s in samples if s.role == "host"][1:]
    return statistics.fmean(busy) if busy else float("nan")


def fallbacks(rows: Sequence[Row]) -> str:
    moves = Counter(move for r in rows for move in hops(r.tried))
    degraded = Counter(r.degraded for r in rows if r.degraded)
    table = [[f"{a} -> {b}", why, str(n)] for (a, b, why), n in moves.most_common()]
    table += [[f"degraded: {label}", "-", str(n)] for label, n in degraded.most_common()]
    if not table:
        return "No fallback was taken and no request was degraded."
    return markdown(["fallback (x-modelyard-tried / -degraded)", "why", "count"], table)


_FALLBACK = re.compile(r"^modelyard_fallbacks_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def fallback_counts(metrics_text: str) -> Counter[tuple[str, str, str]]:
    """The proxy's `modelyard_fallbacks_total` by (from, to, reason)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for match in _FALLBACK.finditer(metrics_text):
        labels = dict(_LABEL.findall(match["labels"]))
        key = (labels.get("from", ""), labels.get("to", ""), labels.get("reason", ""))
        counts[key] += int(float(match["value"]))
    return counts


def metric_fallbacks(before: str, after: str) -> str:
    delta = fallback_counts(after)
    delta.subtract(fallback_counts(before))
    table = [[f"{a} -> {b}", why, str(n)] for (a, b, why), n in delta.most_common() if n > 0]
    if not table:
        return "The proxy's modelyard_fallbacks_total did not move."
    return markdown(["fallback (proxy /metrics)", "reason", "count"], table)
