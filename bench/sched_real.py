"""`make bench`, after swap.py: `make sim`'s alternating trace for real, once per policy (issue 16).

Two tiny vLLM servers on the CPU profile, cold tier, 2 GiB budgets under a 3 GiB ceiling: only
one fits, so every switch is a stop of one and a cold start of the other. The same fixed-seed
trace (the two models in turn, exponential gaps) is replayed through the proxy twice, on a fresh
stack and state directory each time: with `supervisor.scheduler.policy: arrival` (what other
systems do) and with `modelyard`. Each request is sent from its own thread at its arrival time,
so requests pile up while a switch runs, which is what a scheduler can use. Swaps and loads are
counted from the supervisor's /metrics; waits are the proxy's `x-modelyard-waited`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sim import percentile
from harness.stack import running_stack, stack_config

A, B = "tiny-qwen-a", "tiny-qwen-b"
# One server per route, no fallback: a request is served by the model it asked for, so a
# request for the other model cannot dodge the switch.
ROUTES = {"only-a": [A], "only-b": [B]}
POLICIES = ("arrival", "modelyard")
SEED = 16
# Switch-cost priors near what a tiny vLLM costs on the 2-core VM (docs/benchmarks.md, issue 3:
# start to ready 27.5 s, stop 0.44 s by hand), so the modelyard policy starts from sensible
# figures; it learns from every switch either way. wake/sleep are unused on the cold tier.
PRIORS = {"start": 27.0, "wake": 5.0, "sleep": 2.0, "stop": 1.0}
QUEUE_TIMEOUT = 300  # seconds a request may wait for capacity: far past any wait seen here
SCHEDULE_POLL_S = 0.5
# Below this a wait counts as none: a ready server's ensure is a loopback round trip, or no
# question at all while the proxy remembers its address.
NO_WAIT_S = 0.1
_FIGURES = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the trace began
    route: str


@dataclass(frozen=True)
class Outcome:
    route: str
    at: float
    status: int | None  # None: no HTTP answer at all
    latency: float  # seconds from sending to the whole answer, measured by the client
    waited: float | None  # x-modelyard-waited; None where the answer lacks it
    tried: str | None
    error: str | None


def trace(seed: int, requests: int, gap: float) -> list[Arrival]:
    """The two models in turn with Poisson arrivals. B first: A is resident after the warm-up,
    so every arrival wants the model that was not asked for last."""
    rng = random.Random(seed)
    t, out = 0.0, []
    for i in range(requests):
        t += rng.expovariate(1 / gap)
        out.append(Arrival(round(t, 3), ("only-b", "only-a")[i % 2]))
    return out


def complete(client: httpx.Client, proxy: str, route: str) -> httpx.Response:
    body = {"model": route, "prompt": "hello", "max_tokens": 4}
    return client.post(f"{proxy}/v1/completions", json=body)


def send(client: httpx.Client, proxy: str, arrival: Arrival, out: list[Outcome]) -> None:
    began = time.perf_counter()
    try:
        response = complete(client, proxy, arrival.route)
    except httpx.HTTPError as exc:
        took = time.perf_counter() - began
        out.append(Outcome(arrival.route, arrival.at, None, took, None, None, repr(exc)))
        return
    took = time.perf_counter() - began
    waited = response.headers.get("x-modelyard-waited")
    error = None if response.status_code == 200 else response.text[:300]
    out.append(
        Outcome(
            arrival.route,
            arrival.at,
            response.status_code,
            took,
            None if waited is None else float(waited),
            response.headers.get("x-modelyard-tried"),
            error,
        )
    )


def replay(proxy: str, arrivals: Sequence[Arrival]) -> tuple[list[Outcome], float]:
    """Every request on its own thread at its arrival time; the outcomes and the wall time."""
    out: list[Outcome] = []  # list.append is atomic: the threads share it without a lock
    limits = httpx.Limits(max_connections=len(arrivals) + 1)
    with httpx.Client(timeout=QUEUE_TIMEOUT + 120, limits=limits) as client:
        threads = []
        began = time.perf_counter()
        for arrival in arrivals:
            # pacing, not synchronisation: the trace says when each request is sent
            time.sleep(max(0.0, began + arrival.at - time.perf_counter()))
            thread = threading.Thread(target=send, args=(client, proxy, arrival, out))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
    return sorted(out, key=lambda o: o.at), wall


@contextmanager
def decisions(admin: str) -> Iterator[list[dict[str, Any]]]:
    """The scheduler's decisions (`GET /schedule`) while the block runs. Its reasons carry
    figures that change every poll (ages, values), so decisions that differ only in figures
    are one entry: from when it was first seen to the last poll, with its last wording."""
    seen: list[dict[str, Any]] = []
    stop = threading.Event()
    began = time.perf_counter()

    def poll() -> None:
        while not stop.wait(SCHEDULE_POLL_S):
            try:
                decision = httpx.get(f"{admin}/schedule", timeout=5).json()["decision"]
            except (httpx.HTTPError, ValueError, KeyError):
                continue
            at = round(time.perf_counter() - began, 1)
            shape = _FIGURES.sub("#", decision)
            if seen and seen[-1]["shape"] == shape:
                seen[-1].update(until=at, decision=decision)
            else:
                seen.append({"at": at, "until": at, "shape": shape, "decision": decision})

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def counters(admin: str) -> dict[str, float]:
    """Swaps (evictions of any action) and loads so far, summed over the servers."""
    text = httpx.get(f"{admin}/metrics", timeout=10).text
    totals = {"swaps": 0.0, "loads": 0.0}
    names = {"modelyard_evictions_total": "swaps", "modelyard_loads_total": "loads"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in names:
                totals[names[sample.name]] += sample.value
    return totals


def configure(root: Path, policy: str) -> dict[str, Any]:
    config = stack_config(root / "state", memory_cap_gb=3, queue_timeout=QUEUE_TIMEOUT)
    config["supervisor"]["scheduler"] = {"policy": policy}  # the defaults otherwise
    for name in (A, B):
        config["servers"][name].update(gpu_memory_gb=2, tier="cold", switch_costs=PRIORS)
    config["routes"].update(ROUTES)
    return config


@contextmanager
def stack_dir(policy: str, keep: Path | None) -> Iterator[Path]:
    """A fresh folder for one run's config, logs and state: `keep`/policy, kept for reading
    afterwards (the supervisor's log, each server's), or a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix=f"modelyard-sched-{policy}-") as tmp:
            yield Path(tmp)
        return
    root = keep / policy
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    yield root


def run(policy: str, arrivals: Sequence[Arrival], keep: Path | None) -> dict[str, Any]:
    print(f"\n{policy}: starting a fresh stack; warm-up loads {A}", flush=True)
    with stack_dir(policy, keep) as root:
        config = configure(root, policy)
        with running_stack(root, config, check_exit=True) as stack:
            admin = stack.admin_url
            with httpx.Client(timeout=QUEUE_TIMEOUT) as client:
                complete(client, stack.proxy_url, "only-a").raise_for_status()
            before = counters(admin)
            print(f"{policy}: replaying {len(arrivals)} requests", flush=True)
            with decisions(admin) as seen:
                outcomes, wall = replay(stack.proxy_url, arrivals)
            after = counters(admin)
            servers = httpx.get(f"{admin}/servers", timeout=10).json()["servers"]
    ours = [s for s in servers if s["name"] in (A, B)]
    learned = {s["name"]: {k: s["costs"][k] for k in ("start", "stop")} for s in ours}
    result = summary(policy, outcomes, wall, before, after)
    result.update(decisions=seen, learned_costs=learned, outcomes=[asdict(o) for o in outcomes])
    return result


def summary(
    policy: str,
    outcomes: Sequence[Outcome],
    wall: float,
    before: dict[str, float],
    after: dict[str, float],
) -> dict[str, Any]:
    latency = [o.latency for o in outcomes]
    waits = [o.waited for o in outcomes if o.waited is not None]
    return {
        "policy": policy,
        "requests": len(outcomes),
        "errors": sum(o.status != 200 for o in outcomes),
        "swaps": int(after["swaps"] - before["swaps"]),
        "loads": int(after["loads"] - before["loads"]),
        "latency_p50_s": round(percentile(latency, 50), 2),
        "latency_p99_s": round(percentile(latency, 99), 2),
        "wait_p50_s": round(percentile(waits, 50), 2),
        "wait_p99_s": round(percentile(waits, 99), 2),
        "waited_zero_share": round(sum(w < NO_WAIT_S for w in waits) / len(outcomes), 3),
        "wall_s": round(wall, 1),
    }


def table(runs: Sequence[dict[str, Any]]) -> str:
    head = (
        f"{'policy':<10} {'reqs':>4} {'errors':>6} {'swaps':>5} {'loads':>5} {'lat p50':>8} "
        f"{'lat p99':>8} {'wait p50':>8} {'wait p99':>8} {'waited 0':>8} {'wall':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(
            f"{r['policy']:<10} {r['requests']:>4} {r['errors']:>6} {r['swaps']:>5} "
            f"{r['loads']:>5} {r['latency_p50_s']:>7.1f}s {r['latency_p99_s']:>7.1f}s "
            f"{r['wait_p50_s']:>7.1f}s {r['wait_p99_s']:>7.1f}s "
            f"{r['waited_zero_share']:>8.0%} {r['wall_s']:>6.1f}s"
        )
    return "\n".join(lines)


def comparison(arrival: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    fewer = 1 - ours["swaps"] / arrival["swaps"] if arrival["swaps"] else 0.0
    ratio = ours["wait_p99_s"] / arrival["wait_p99_s"] if arrival["wait_p99_s"] else None
    return {
        "swaps_fewer": round(fewer, 3),
        "wait_p99_ratio": None if ratio is None else round(ratio, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=12)
    parser.add_argument("--gap", type=float, default=4.0, help="mean seconds between arrivals")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="keep each run's logs and state in KEEP/policy")
    args = parser.parse_args()
    arrivals = trace(args.seed, args.requests, args.gap)
    print(
        f"{args.requests} requests alternating {B}/{A} (routes only-b/only-a, no fallback), "
        f"exponential gaps of mean {args.gap:g} s, seed {args.seed}; cold tier, 2 GiB each "
        f"under a 3 GiB cap; switch-cost priors {PRIORS} (bench/swap.py's measured start and "
        "stop); scheduler settings otherwise the defaults"
    )
    runs = [run(policy, arrivals, args.keep) for policy in POLICIES]
    by = {r["policy"]: r for r in runs}
    compared = comparison(by["arrival"], by["modelyard"])
    print("\n" + table(runs))
    ratio = compared["wait_p99_ratio"]
    print(
        f"\nmodelyard vs arrival: {compared['swaps_fewer']:.0%} fewer swaps "
        f"({by['modelyard']['swaps']} vs {by['arrival']['swaps']}), p99 wait "
        + ("n/a" if ratio is None else f"{ratio:.2f}x")
        + f" ({by['modelyard']['wait_p99_s']:.1f} s vs {by['arrival']['wait_p99_s']:.1f} s)"
    )
    for r in runs:
        learned = "; ".join(
            f"{name} "
            + ", ".join(f"{k} {c['seconds']:.1f} s ({c['observed']} seen)" for k, c in cs.items())
            for name, cs in r["learned_costs"].items()
        )
        print(f"\n{r['policy']}: switch costs learned: {learned}; scheduler decisions seen:")
        for d in r["decisions"]:
            print(f"  {d['at']:>6.1f}-{d['until']:<6.1f} s  {d['decision']}")
    if args.json:
        meta = {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "requests": args.requests,
            "gap_s": args.gap,
            "seed": args.seed,
            "priors": PRIORS,
            "trace": [asdict(a) for a in arrivals],
        }
        args.json.write_text(json.dumps({**meta, "runs": runs, "comparison": compared}, indent=2))


if __name__ == "__main__":
    main()
