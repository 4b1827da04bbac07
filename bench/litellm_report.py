"""The pure parts of bench/litellm_overhead.py: the servers it configures, the figures it
draws from its samples and the tables it prints (Markdown, so the terminal and
docs/benchmarks.md show the same thing).

Added latency is a difference of medians from one run (the paths interleaved in rounds), as in
bench/compare_figures.py; a ratio is a variant's median over its reference's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from bench.compare import instant_server
from bench.compare_figures import percentile, summary
from loadtests.summary import markdown

LOCAL = "fast"  # the local server's name: bench/proxy_load.py's requests name it
REMOTE = "far"  # the remote server's name
UPSTREAM_MODEL = "instant"  # what the instant upstream is asked for through LiteLLM
KEY_ENV = "MODELYARD_BENCH_REMOTE_KEY"  # the remote's api_key_env; the upstream ignores it

# The proxy variants, each a `modelyard up`: which venv, and whether a remote server is set.
BARE, EXTRA, WITH_REMOTE = "bare", "extra", "extra+remote"
VARIANTS = {
    BARE: "without the extra (core dependencies only)",
    EXTRA: "with the extra installed, local servers only",
    WITH_REMOTE: "with the extra and a remote server configured",
}
# The remote path's three ways to the same upstream (part 3).
DIRECT, SDK, MODELYARD = "direct", "litellm", "modelyard"
REMOTE_PATHS = {
    DIRECT: "direct (httpx)",
    SDK: "litellm.acompletion in the client",
    MODELYARD: "modelyard, remote server",
}


def servers(remote_port: int | None) -> dict[str, Any]:
    """The servers a bench stack adds to the CPU profile: the instant upstream as a local
    server (cold: nothing starts with `up`, so a start time is the proxy's own), and with
    `remote_port` a remote server calling an instant upstream there through LiteLLM."""
    found: dict[str, Any] = {LOCAL: {**instant_server(), "tier": "cold"}}
    if remote_port is not None:
        found[REMOTE] = {
            "remote": {
                "model": f"openai/{UPSTREAM_MODEL}",
                "api_base": f"http://127.0.0.1:{remote_port}/v1",
                "api_key_env": KEY_ENV,
            }
        }
    return found


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ratio(value: float, reference: float) -> float:
    return value / reference if reference else math.nan


def _f(value: float, digits: int = 2, sign: bool = False) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def latency_figures(direct_ms: Sequence[float], proxy_ms: Sequence[float]) -> dict[str, Any]:
    """One proxy variant's local path: both distributions and the added median."""
    return {
        "direct_ms": summary(direct_ms),
        "proxy_ms": summary(proxy_ms),
        "added_ms": median(proxy_ms) - median(direct_ms),
    }


def start_table(starts: dict[str, dict[str, list[float]]]) -> str:
    """Seconds from spawning `modelyard up` to the proxy's /health answering 200 (and, with a
    remote server, to its first remote answer): median, range, against the bare venv's."""
    reference = median(starts[BARE]["start_s"]) if BARE in starts else math.nan
    rows = []
    for variant, times in starts.items():
        start = times["start_s"]
        first = times.get("first_remote_s", [])
        rows.append(
            [
                VARIANTS[variant],
                str(len(start)),
                _f(median(start)),
                f"{_f(min(start))} to {_f(max(start))}",
                _f(ratio(median(start), reference)),
                _f(median(first)) if first else "",
            ]
        )
    header = [
        "modelyard up",
        "starts",
        "to /health (s)",
        "range",
        "x bare",
        "to 1st remote answer (s)",
    ]
    return markdown(header, rows)


def local_table(local: dict[str, dict[str, Any]]) -> str:
    """The proxy's added latency for a local server, per variant: medians in ms."""
    reference = local[BARE]["added_ms"] if BARE in local else math.nan
    rows = []
    for variant, figures in local.items():
        rows.append(
            [
                VARIANTS[variant],
                str(int(figures["proxy_ms"]["n"])),
                _f(figures["direct_ms"]["p50"], 3),
                _f(figures["proxy_ms"]["p50"], 3),
                _f(figures["added_ms"], 3, sign=True),
                _f(ratio(figures["added_ms"], reference)),
                _f(figures.get("rss_mb", math.nan), 0),
                str(figures.get("errors", 0)),
            ]
        )
    header = ["proxy", "requests", "direct", "via proxy", "added", "x bare", "RSS (MB)", "errors"]
    return markdown(header, rows)


def remote_table(remote: dict[str, dict[str, Any]]) -> str:
    """The remote path per mode (plain, stream): each path's median, and modelyard's added
    latency over LiteLLM called in the client (and over the direct request)."""
    rows = []
    for mode, paths in remote.items():
        for path, figures in paths.items():
            total = figures["total_ms"]["p50"]
            over_sdk = total - paths[SDK]["total_ms"]["p50"] if path == MODELYARD else math.nan
            ttfb = figures.get("ttfb_ms", {}).get("p50", math.nan)
            rows.append(
                [
                    mode,
                    REMOTE_PATHS[path],
                    str(int(figures["total_ms"]["n"])),
                    _f(total, 3),
                    _f(ttfb, 3),
                    _f(total - paths[DIRECT]["total_ms"]["p50"], 3, sign=True),
                    _f(over_sdk, 3, sign=True),
                ]
            )
    header = ["mode", "path", "requests", "median", "first chunk", "+ direct", "+ litellm"]
    return markdown(header, rows)


def tables(report: dict[str, Any]) -> str:
    parts = []
    if report.get("starts"):
        parts += ["Start (seconds):", start_table(report["starts"])]
    if report.get("local"):
        parts += ["Local server, added latency (ms, medians):", local_table(report["local"])]
    if report.get("remote"):
        parts += ["Remote path (ms, medians):", remote_table(report["remote"])]
    return "\n\n".join(parts)
