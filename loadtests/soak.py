"""`make soak`: the load test's mix for longer (30 minutes by default), with faults injected on
a schedule (loadtests/soak_faults.py: a server killed, a sidecar stopped, a slow upstream
stalled), then a verdict (loadtests/soak_report.py): the error rate against the brief's target
of under 0.1% (designed 429/503 apart), the proxy's and the supervisor's memory and open file
descriptors over time with growth flagged, every fallback taken, and the fault timeline.

Exits 1 when the error rate is 0.1% or more or memory or descriptors grew, so that it can gate
a release; 0 otherwise.

The stack is the CPU profile plus a slow upstream: `slow-upstream`, harness/fake_vllm.py
streaming 20 tokens 0.3 s apart (6 s a stream), first in a route of its own (`soak-slow`) with
`tiny-qwen-b` behind it, one try and a 4 s first-byte timeout, so that a stall (10 s) sends
new requests down the chain (two tries of 5 s raced the stall's end, measured). The fallbacks
the faults call for (`tiny-qwen-b`) are warmed with the rest.

    python -m loadtests.soak [--minutes 30] [--users 6] ...      (SOAK_MINUTES=3 for a check)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from harness.stack import fake_server
from loadtests import run, soak_report, summary
from loadtests.mix import SLOW_ROUTE
from loadtests.soak_faults import SLOW_SERVER, Schedule, schedule

SLOW = fake_server(
    "--stream-delay",
    "0.3",
    "--stream-tokens",
    "20",
    "--chat-reply",
    "slow",
    gpu_memory_gb=0.1,
    capabilities=["text"],
)


def configure(config: dict[str, Any]) -> None:
    config["servers"][SLOW_SERVER] = SLOW
    config["routes"][SLOW_ROUTE] = [SLOW_SERVER, "tiny-qwen-b"]
    retry = {"attempts": 1, "first_byte_timeout": 4}
    config["proxy"].setdefault("route_retry", {})[SLOW_ROUTE] = retry


def verdict(result: run.Result, plan: Schedule) -> tuple[str, bool]:
    rows = soak_report.judged(result.rows, plan.faults)
    total = summary.totals(rows, result.seconds)
    probes = [f.probe_ok for f in plan.faults if f.probe_ok is not None]
    total["requests"] += len(probes)
    total["failed"] += probes.count(False)
    total["error_rate"] = total["failed"] / total["requests"] if total["requests"] else 0.0
    grown = soak_report.growth(result.samples)
    errors_ok = total["error_rate"] < soak_report.TARGET
    growth_ok = not any(g.grew for g in grown)
    start = min((s.t for s in result.samples), default=0.0)
    lines = [
        f"error rate {total['error_rate']:.3%} ({total['failed']:.0f} of "
        f"{total['requests']:,.0f} requests, {len(probes)} stall probes among them; designed "
        f"429/503 and streams cut by an injected fault {total['designed']:.0f}, counted apart): "
        + ("under" if errors_ok else "NOT under")
        + f" the target of {soak_report.TARGET:.1%}",
        "memory and open files: " + ("steady" if growth_ok else "GROWTH (see below)"),
        "",
        soak_report.growth_table(grown),
        "",
        soak_report.over_time(result.samples),
        "",
        soak_report.timeline(plan.faults, rows, start),
    ]
    if total["failed"]:
        lines += ["", summary.failures(rows)]
    return "\n".join(lines), errors_ok and growth_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30"))
    )
    run.add_common(parser, users=6)
    args = parser.parse_args()
    settings = run.Settings(
        args.minutes * 60,
        args.users,
        args.spawn_rate,
        args.think,
        "soak",
        args.together,
        args.results,
    )
    plan = schedule(settings.seconds)
    print(f"soak: {args.minutes:g} min, {len(plan.faults)} faults scheduled", flush=True)
    run.install_signals()
    try:
        result = run.run(settings, configure, ("tiny-qwen-b",), plan.tick, plan.release)
    except run.Interrupted:
        print("interrupted before locust started; everything is stopped", file=sys.stderr)
        sys.exit(130)
    judged, ok = verdict(result, plan)
    text = run.report(result) + "\n\n" + judged
    (result.folder / "summary.md").write_text(text + "\n")
    print("\n" + text)
    print(f"\nfiles: {result.folder}\nsoak: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
