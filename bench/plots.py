"""Plots of a `make bench-compare` report: added latency and throughput against concurrency.

Runs in the plot venv that scripts/setup-bench.sh builds (matplotlib, kept out of the
project's light venv), and reads only the JSON report, so it imports nothing of the project.

    python bench/plots.py [REPORT.json] [--out docs/img]   (default: the newest report)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
STYLE = {
    "direct": {"color": "#555555", "marker": "o", "linestyle": ":"},
    "modelyard": {"color": "#1f77b4", "marker": "s"},
    "litellm": {"color": "#d62728", "marker": "^"},
    "nginx": {"color": "#2ca02c", "marker": "D"},
}


def _series(cells: dict[str, Any], *keys: str) -> tuple[list[int], list[float]]:
    levels = sorted(int(c) for c in cells)
    values = []
    for c in levels:
        value: Any = cells[str(c)]
        for key in keys:
            value = value[key]
        values.append(float(value))
    return levels, values


def _concurrency_axis(ax: Any, levels: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(c) for c in levels])
    ax.set_xlabel("concurrent clients (closed loop)")
    ax.grid(True, which="both", alpha=0.3)


def added_latency(report: dict[str, Any], out: Path) -> Path:
    plain = report["instant"]["plain"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), sharey=True)
    fig.suptitle(_caption(report), fontsize=8)
    for ax, q in zip(axes, ("p50", "p99"), strict=True):
        for path in ("modelyard", "litellm", "nginx"):
            levels, values = _series(plain[path], "added_ms", q)
            ax.plot(levels, values, label=path, **STYLE[path])
            _concurrency_axis(ax, levels)
        ax.set_yscale("symlog", linthresh=0.1)  # spans nginx's ~0.1 ms to LiteLLM's seconds
        ax.set_title(f"added latency, {q} (path minus direct)")
    axes[0].set_ylabel("ms (symmetric log scale)")
    _legend(fig, axes[0])
    target = out / "compare-added-latency.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def throughput(report: dict[str, Any], out: Path) -> Path:
    instant = report["instant"]
    ceiling = report["ceiling"]["nginx_return_200"]
    fig, axes = plt.subplots(1, len(instant), figsize=(11, 4.6), sharey=True)
    fig.suptitle(_caption(report), fontsize=8)
    for ax, mode in zip(axes, instant, strict=True):
        for path in ("direct", "modelyard", "litellm", "nginx"):
            levels, values = _series(instant[mode][path], "rps")
            ax.plot(levels, values, label=path, **STYLE[path])
            _concurrency_axis(ax, levels)
        top, rps = _series(ceiling, "rps")
        ax.plot(top, rps, color="black", linestyle="--", label="load generator's ceiling")
        ax.set_yscale("log")
        ax.set_title(f"throughput, {'streamed' if mode == 'stream' else 'non-streamed'}")
    axes[0].set_ylabel("requests per second (log scale)")
    _legend(fig, axes[0])
    target = out / "compare-throughput.png"
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target


def _legend(fig: Any, ax: Any) -> None:
    """One legend below the panels, where it hides no line."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9)
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))


def _caption(report: dict[str, Any]) -> str:
    versions = report["versions"]
    return (
        f"make bench-compare, {report['date']}, {report['machine']}; instant upstream; "
        f"LiteLLM {versions.get('litellm', '?')} (1 worker), nginx {versions.get('nginx', '?')}"
        " (1 worker)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("report", nargs="?", type=Path, help="default: the newest report")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    report_path = args.report or max(
        (ROOT / "bench" / "results").glob("compare-*.json"), key=lambda p: p.stat().st_mtime
    )
    report = json.loads(report_path.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    for made in (added_latency(report, args.out), throughput(report, args.out)):
        print(f"plot: {made}")


if __name__ == "__main__":
    main()
