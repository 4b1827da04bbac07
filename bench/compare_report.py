"""What `make bench-compare` concludes from its measurements, and the tables it prints.

`summarize` reads the report bench/compare.py builds (JSON-ready: levels are string keys) and
adds the sustained rates, CPU per 1,000 requests, RSS and the issue's targets, each met or
not. `tables` renders all of it as plain-text tables.
"""

from __future__ import annotations

import math
from typing import Any

from bench import compare_figures as figures

PROXIES = ("modelyard", "litellm", "nginx")
PATHS = ("direct", *PROXIES)
REPORTED = (1, 8, 32, 128)


def _levels(cells: dict[str, Any]) -> list[int]:
    return sorted(int(c) for c in cells)


def sustained(cells: dict[str, Any], bound_ms: float) -> dict[str, Any] | None:
    levels = [
        figures.Level(int(c), cell["rps"], cell["latency_ms"]["p99"]) for c, cell in cells.items()
    ]
    found = figures.sustained(levels, bound_ms)
    return None if found is None else vars(found)


def cpu_per_1k(cells: dict[str, Any]) -> dict[str, float]:
    """CPU seconds per 1,000 requests over every level: the whole tree, and per process."""
    completed = sum(cell["completed"] for cell in cells.values())
    by_pid: dict[str, float] = {}
    for cell in cells.values():
        for pid, seconds in cell["proxy_cpu_s"].items():
            by_pid[str(pid)] = by_pid.get(str(pid), 0.0) + seconds
    out = {"total": figures.per_thousand(sum(by_pid.values()), completed)}
    out.update({pid: figures.per_thousand(s, completed) for pid, s in by_pid.items()})
    return out


def _at(report: dict[str, Any], path: str, clients: int, key: str, q: str) -> float:
    cell = report["instant"]["plain"].get(path, {}).get(str(clients))
    return float(cell[key][q]) if cell else math.nan


def targets(report: dict[str, Any], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for modelyard, each with its measured value and whether it is met."""
    rows = [
        ("added p50 at 8 clients (ms)", _at(report, "modelyard", 8, "added_ms", "p50"), 1.0),
        ("added p99 at 8 clients (ms)", _at(report, "modelyard", 8, "added_ms", "p99"), 3.0),
        ("added p99 at 32 clients (ms)", _at(report, "modelyard", 32, "added_ms", "p99"), 10.0),
        (
            "proxy CPU per request (ms, non-streamed)",
            summary["cpu_s_per_1k"]["plain"]["modelyard"]["total"],
            0.25,
        ),
        ("proxy RSS at the end (MB)", summary["rss_mb"].get("modelyard", math.nan), 150.0),
    ]
    found = [{"target": t, "value": v, "limit": lim, "met": v <= lim} for t, v, lim in rows]
    for mode in ("plain", "stream"):
        ours, theirs = (summary["sustained"][mode].get(p) for p in ("modelyard", "litellm"))
        ratio = _ratio(ours, theirs)
        found.append(
            {
                "target": f"sustained req/s vs LiteLLM's ({mode})",
                "value": ratio,
                "limit": 3.0,
                "met": ratio >= 3.0,
            }
        )
    for q in ("p50", "p99"):
        ours = _at(report, "modelyard", 8, "added_ms", q)
        floor = _at(report, "nginx", 8, "added_ms", q)
        ratio = ours / floor if floor > 0 else math.inf
        found.append(
            {
                "target": f"added {q} at 8 clients vs nginx's (times)",
                "value": ratio,
                "limit": 2.0,
                "met": ratio <= 2.0,
            }
        )
    return found


def _ratio(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> float:
    """modelyard's sustained req/s over LiteLLM's; LiteLLM sustaining nothing under the bound
    makes any rate of ours an infinite multiple."""
    if ours and theirs:
        return float(ours["rps"] / theirs["rps"])
    return math.inf if ours else math.nan


def summarize(report: dict[str, Any], bound_ms: float) -> dict[str, Any]:
    instant = report["instant"]
    summary: dict[str, Any] = {
        "bound_ms": bound_ms,
        "sustained": {
            mode: {path: sustained(cells, bound_ms) for path, cells in instant[mode].items()}
            for mode in instant
        },
        "cpu_s_per_1k": {
            mode: {path: cpu_per_1k(cells) for path, cells in instant[mode].items()}
            for mode in instant
        },
        "rss_mb": {path: sum(sizes.values()) for path, sizes in report["rss_mb"].items()},
    }
    summary["share_of_loadgen_ceiling"] = {path: ceiling_share(report, path) for path in PATHS}
    summary["loadgen_cores"] = {path: loadgen_cores(report, path) for path in PATHS}
    summary["targets"] = targets(report, summary)
    return summary


def ceiling_share(report: dict[str, Any], path: str) -> float:
    """The highest req/s of `path` (any mode) as a share of the load generator's ceiling at
    the same concurrency."""
    ceiling = report["ceiling"]["nginx_return_200"]
    shares = [
        cell["rps"] / ceiling[c]["rps"]
        for cells in (report["instant"][mode][path] for mode in report["instant"])
        for c, cell in cells.items()
        if ceiling.get(c, {}).get("rps")
    ]
    return max(shares, default=math.nan)


def loadgen_cores(report: dict[str, Any], path: str) -> float:
    """The most CPU the load generator spent driving `path` at any level, in cores (CPU
    seconds per second): what it took from the machine the proxies share."""
    cells = [c for mode in report["instant"] for c in report["instant"][mode][path].values()]
    return max((c["loadgen_cpu_us"] * c["rps"] / 1e6 for c in cells), default=math.nan)


def _f(value: float, digits: int = 2, sign: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:,.{digits}f}"


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    line = "  ".join
    out = [f"\n{title}", line(h.rjust(w) for h, w in zip(header, widths, strict=True))]
    out += [line(str(x).rjust(w) for x, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def tables(report: dict[str, Any]) -> str:
    summary = report["summary"]
    instant = report["instant"]
    plain = instant["plain"]
    shown = [c for c in REPORTED if str(c) in plain["direct"]]
    load = report.get("load_average", {})
    parts = [
        f"{report['date']}  {report['machine']}  {report['versions']}",
        "load average (1/5/15 min) before: "
        + " / ".join(f"{x:.1f}" for x in load.get("before", []))
        + ", after: "
        + " / ".join(f"{x:.1f}" for x in load.get("after", [])),
    ]

    ceiling, direct = report["ceiling"]["nginx_return_200"], plain["direct"]
    parts.append(
        _table(
            "The load generator's ceiling: nginx answering by itself, in the same rotation",
            ["clients", "nginx return 200 (req/s)", "direct (req/s)", "generator us/req"],
            [
                [
                    c,
                    _f(ceiling[c]["rps"], 0),
                    _f(direct[c]["rps"], 0),
                    _f(ceiling[c]["loadgen_cpu_us"], 0),
                ]
                for c in map(str, _levels(ceiling))
            ],
        )
    )
    share, cores = summary["share_of_loadgen_ceiling"], summary["loadgen_cores"]
    parts.append(
        "Each path's highest req/s as a share of that ceiling at the same concurrency: "
        + ", ".join(f"{p} {share[p]:.0%}" for p in PATHS)
        + ".\nThe most CPU the load generator used while driving each path (cores): "
        + ", ".join(f"{p} {cores[p]:.2f}" for p in PATHS)
        + "."
    )

    header = ["path"] + [f"{c}: p50 / p95 / p99" for c in shown]
    rows = [["direct (absolute)"] + [_trio(plain["direct"][str(c)]["latency_ms"]) for c in shown]]
    rows += [[p] + [_trio(plain[p][str(c)]["added_ms"], True) for c in shown] for p in PROXIES]
    parts.append(_table("Added latency, non-streamed (ms, path minus direct)", header, rows))

    for mode in instant:
        levels = _levels(instant[mode]["direct"])
        rows = [[p] + [_f(instant[mode][p][str(c)]["rps"], 0) for c in levels] for p in PATHS]
        parts.append(_table(f"Throughput, {mode} (req/s)", ["path", *map(str, levels)], rows))

    bound = summary["bound_ms"]
    rows = []
    for p in PATHS:
        row = [p]
        for mode in instant:
            found = summary["sustained"][mode][p]
            row.append(f"{found['rps']:,.0f} @ {found['clients']}" if found else "none")
        rows.append(row)
    parts.append(
        _table(f"Sustained req/s with p99 <= {bound:.0f} ms (@ clients)", ["path", *instant], rows)
    )

    stream = instant["stream"]
    header = ["path"] + [f"{c}: p50 / p99 (added)" for c in shown]
    rows = [[p] + [_ttfb(stream[p][str(c)], p != "direct") for c in shown] for p in PATHS]
    parts.append(_table("Streams: time to first byte (ms)", header, rows))

    cpu = summary["cpu_s_per_1k"]
    rows = [
        [
            p,
            _f(cpu["plain"][p]["total"], 3),
            _f(cpu["stream"][p]["total"], 3),
            _f(report["idle_cpu_s_per_s"][p], 3),
            _f(summary["rss_mb"].get(p, math.nan), 0),
            str(len(report["processes"][p])),
        ]
        for p in PATHS
    ]
    parts.append(
        _table(
            "CPU seconds per 1,000 requests (direct: the upstream's own), idle CPU, RSS",
            ["path", "plain", "stream", "idle s/s", "RSS MB", "processes"],
            rows,
        )
    )

    if "vllm" in report:
        vllm = report["vllm"]
        levels = _levels(vllm["direct"])
        header = ["path"] + [f"{c}: p50 / p95 (added p50)" for c in levels]
        rows = []
        for p in PATHS:
            row = [p]
            for c in levels:
                cell = vllm[p][str(c)]
                text = f"{_f(cell['latency_ms']['p50'], 1)} / {_f(cell['latency_ms']['p95'], 1)}"
                if p != "direct":
                    text += f" ({_f(cell['added_ms']['p50'], 2, True)})"
                row.append(text)
            rows.append(row)
        parts.append(_table("Tiny vLLM, non-streamed (ms)", header, rows))

    errors = [
        f"{mode} {p} @{c}: {cell['errors']}"
        for mode in instant
        for p in PATHS
        for c, cell in instant[mode][p].items()
        if cell["errors"]
    ]
    parts.append("\nErrors: " + (", ".join(errors) if errors else "none"))

    rows = [
        [t["target"], _f(t["value"]), f"{t['limit']:g}", "met" if t["met"] else "NOT met"]
        for t in summary["targets"]
    ]
    parts.append(
        _table("modelyard against the issue's targets", ["target", "value", "limit", ""], rows)
    )
    return "\n".join(parts)


def _trio(figs: dict[str, float], sign: bool = False) -> str:
    return " / ".join(_f(figs[q], 2, sign) for q in ("p50", "p95", "p99"))


def _ttfb(cell: dict[str, Any], with_added: bool) -> str:
    ttfb, more = cell["ttfb_ms"], cell["added_ttfb_ms"]
    text = f"{_f(ttfb['p50'])} / {_f(ttfb['p99'])}"
    if with_added:
        text += f" ({_f(more['p50'], 2, True)} / {_f(more['p99'], 2, True)})"
    return text
