"""The soak's verdict: the error rate against the brief's target (under 0.1%, designed 429/503
apart), memory and open files over time with growth flagged, and the fault timeline.

A stream that ends with an error event is designed only when an injected fault explains it:
the server that was streaming is the one a fault hit, within `EXPLAINED_SECONDS` of it (a
killed server cuts its streams at once; a stall's streams may be cut when it is restarted).
Any other stream error, and every other failure, counts against the target.

Growth: the median of the last fifth of the samples against the median of the first fifth,
for the proxy and the supervisor. RSS grows if it rose by more than 20% and 20 MB; open file
descriptors if they rose by more than 25% and 10. Both margins are above what a steady run
shows here (connections open and close with the users' requests), below a leak of one
descriptor or a few kB per request over thousands of requests.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from loadtests.request_log import Row
from loadtests.sampler import Sample
from loadtests.soak_faults import STALL_SECONDS, Fault
from loadtests.summary import markdown

TARGET = 0.001  # the brief: an error rate under 0.1%
EXPLAINED_SECONDS = 60.0
WATCHED = ("proxy", "supervisor", "up")


@dataclass(frozen=True)
class Growth:
    role: str
    measure: str  # "RSS MB" or "open FDs"
    first: float
    last: float
    grew: bool


def explained(row: Row, faults: Sequence[Fault]) -> bool:
    for fault in faults:
        if fault.done_at is None or row.model != fault.target:
            continue
        window = EXPLAINED_SECONDS + (STALL_SECONDS if fault.kind == "stall" else 0)
        if fault.done_at <= row.t <= fault.done_at + window:
            return True
    return False


def judged(rows: Sequence[Row], faults: Sequence[Fault]) -> list[Row]:
    """The rows with each stream error made `designed` (explained) or `failed` (not)."""
    out = []
    for row in rows:
        if row.outcome == "stream_error":
            designed = explained(row, faults)
            row = replace(row, outcome="designed" if designed else "failed")
        out.append(row)
    return out


def growth(samples: Sequence[Sample]) -> list[Growth]:
    found = []
    for role in WATCHED:
        series = [s for s in samples if s.role == role]
        if len(series) < 10:
            continue
        fifth = len(series) // 5
        head, tail = series[:fifth], series[-fifth:]
        rss = statistics.median(s.rss_mb for s in head), statistics.median(s.rss_mb for s in tail)
        fds = statistics.median(s.fds for s in head), statistics.median(s.fds for s in tail)
        found.append(Growth(role, "RSS MB", *rss, rss[1] > rss[0] * 1.2 and rss[1] - rss[0] > 20))
        found.append(
            Growth(role, "open FDs", *fds, fds[1] > fds[0] * 1.25 and fds[1] - fds[0] > 10)
        )
    return found


def growth_table(found: Sequence[Growth]) -> str:
    rows = [
        [
            g.role,
            g.measure,
            f"{g.first:,.0f}",
            f"{g.last:,.0f}",
            f"{g.last - g.first:+,.0f}",
            "GROWTH" if g.grew else "steady",
        ]
        for g in found
    ]
    header = ["process", "measure", "first fifth (median)", "last fifth (median)", "change"]
    return markdown([*header, "verdict"], rows)


def over_time(samples: Sequence[Sample], points: int = 10) -> str:
    """The watched processes' RSS and FDs, and the server count, at evenly spaced moments."""
    times = sorted({s.t for s in samples})
    if not times:
        return "No samples."
    start = times[0]
    picked = [times[round(i * (len(times) - 1) / (points - 1))] for i in range(points)]
    at = {(s.t, s.role): s for s in samples}
    roles = [r for r in WATCHED if any(s.role == r for s in samples)]
    table = []
    for t in picked:
        cells = [f"{t - start:,.0f}"]
        for role in roles:
            sample = at.get((t, role))
            cells.append(f"{sample.rss_mb:,.0f} MB, {sample.fds} FDs" if sample else "-")
        servers = at.get((t, "servers"))
        cells.append(str(servers.threads) if servers else "-")
        table.append(cells)
    return markdown(["s", *roles, "server processes"], table)


def timeline(faults: Sequence[Fault], rows: Sequence[Row], start: float) -> str:
    """Each fault, and what the requests in the minute after it got."""
    table = []
    for fault in faults:
        if fault.done_at is None:
            table.append([f"{fault.at:.0f}", fault.kind, fault.target, "not reached", "-"])
            continue
        after = [r for r in rows if fault.done_at <= r.t <= fault.done_at + EXPLAINED_SECONDS]
        bad = sum(r.outcome == "failed" for r in after)
        designed = sum(r.outcome == "designed" for r in after)
        table.append(
            [
                f"{fault.done_at - start:.0f}",
                fault.kind,
                fault.target,
                f"{fault.result}; {fault.probe}" if fault.probe else fault.result,
                f"{len(after)} requests: {bad} failed, {designed} designed",
            ]
        )
    header = ["at s", "fault", "target", "what happened", "the next 60 s"]
    return markdown(header, table)
