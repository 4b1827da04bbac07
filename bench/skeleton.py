"""Walking-skeleton benchmarks, printed by `make bench` (never asserted in tests).

1. Supervisor overhead: `POST /servers/NAME/ensure` until ready, against the same `vllm serve`
   argv started by hand and polled for /health at the same 50 ms. Runs interleave (hand,
   supervisor, hand, ...) so drift on this shared machine hits both sides alike. Also the
   supervisor's fixed cost: ensure wall time minus the child's own spawn-to-healthy time.
2. Proxy-added latency: a 16-token non-streamed completion through the proxy against the same
   request sent straight to vLLM, one client with keep-alive, interleaved, medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.stack import (
    free_port,
    group_pids,
    running_stack,
    stack_config,
    wait_for,
)
from modelyard_config import parse_config
from supervisor import paths
from supervisor.command import LaunchFacts, render

SERVER = "tiny-qwen-a"
POLL = 0.05


def hand_start(config: dict[str, object]) -> float:
    """Spawn the server's argv directly; seconds from spawn to /health 200."""
    cfg = parse_config(config)
    facts = LaunchFacts(
        host="127.0.0.1",
        port=free_port(),
        engine_python=str(paths.engine_python()),
        models_dir=str(paths.models_dir()),
    )
    spec = render(cfg, SERVER, facts)
    began = time.monotonic()
    proc = subprocess.Popen(
        spec.argv,
        env={**os.environ, **spec.env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                if _HTTP.get(spec.health_url, timeout=2).status_code == 200:
                    return time.monotonic() - began
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"hand-started vLLM exited with {proc.returncode}")
            time.sleep(POLL)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        wait_for(lambda: not group_pids(proc.pid), 30, "hand-started group to exit")


# One client for the whole run, on both sides: building an httpx.Client costs ~50 ms here (its
# SSL context), which a per-call httpx.get/post would add to every figure it times.
_HTTP = httpx.Client(trust_env=False)


def supervisor_start(admin: str) -> tuple[float, float]:
    """(ensure wall seconds, child spawn-to-ready seconds as the supervisor recorded them)."""
    began = time.monotonic()
    response = _HTTP.post(f"{admin}/servers/{SERVER}/ensure", timeout=600)
    wall = time.monotonic() - began
    response.raise_for_status()
    info = response.json()
    child = info["ready_at"] - info["started_at"]
    _HTTP.post(f"{admin}/servers/{SERVER}/stop", timeout=120).raise_for_status()
    return wall, child


def latency(proxy: str, direct: str, requests: int) -> tuple[list[float], list[float]]:
    body = {"prompt": "def fibonacci(n):", "max_tokens": 16, "temperature": 0, "ignore_eos": True}
    via_proxy, via_direct = [], []
    with httpx.Client(timeout=60) as client:
        for i in range(requests + 10):
            for url, sink in (
                (f"{proxy}/v1/completions", via_proxy),
                (f"{direct}/v1/completions", via_direct),
            ):
                began = time.perf_counter()
                response = client.post(url, json={**body, "model": SERVER})
                elapsed = time.perf_counter() - began
                response.raise_for_status()
                assert response.json()["usage"]["completion_tokens"] == 16
                if i >= 10:  # the first ten warm both paths up
                    sink.append(elapsed * 1000)
    return via_proxy, via_direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--starts", type=int, default=5, help="starts per side")
    parser.add_argument("--requests", type=int, default=200, help="requests per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-") as tmp_:
        tmp = Path(tmp_)
        config = stack_config(tmp / "state")
        with running_stack(tmp, config) as stack:
            hand, wall, child = [], [], []
            for i in range(args.starts):
                print(f"start {i + 1}/{args.starts}: by hand ...", end=" ", flush=True)
                hand.append(hand_start(config))
                print(f"{hand[-1]:.2f} s; by supervisor ...", end=" ", flush=True)
                w, c = supervisor_start(stack.admin_url)
                wall.append(w)
                child.append(c)
                print(f"{w:.2f} s", flush=True)
            base_url = httpx.post(f"{stack.admin_url}/servers/{SERVER}/ensure", timeout=600).json()[
                "base_url"
            ]
            via_proxy, via_direct = latency(stack.proxy_url, base_url, args.requests)
    report(hand, wall, child, via_proxy, via_direct)


def report(
    hand: list[float],
    wall: list[float],
    child: list[float],
    via_proxy: list[float],
    via_direct: list[float],
) -> None:
    med = statistics.median
    fixed = [w - c for w, c in zip(wall, child, strict=True)]
    pairs = [p - d for p, d in zip(via_proxy, via_direct, strict=True)]
    start_pairs = [w - h for w, h in zip(wall, hand, strict=True)]
    results = {
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "start_by_hand_median_s": round(med(hand), 3),
        "ensure_to_ready_median_s": round(med(wall), 3),
        "supervisor_overhead_median_s": round(med(wall) - med(hand), 3),
        "supervisor_overhead_paired_median_s": round(med(start_pairs), 3),
        "supervisor_fixed_cost_median_s": round(med(fixed), 3),
        "direct_median_ms": round(med(via_direct), 2),
        "proxy_median_ms": round(med(via_proxy), 2),
        "proxy_added_median_ms": round(med(via_proxy) - med(via_direct), 2),
        "proxy_added_paired_median_ms": round(med(pairs), 2),
        "requests_per_side": len(via_proxy),
        "starts_per_side": len(hand),
    }
    print(json.dumps(results, indent=2))
    print(
        f"\nsupervisor overhead: {results['supervisor_overhead_median_s']:+.3f} s "
        f"(ensure {results['ensure_to_ready_median_s']:.2f} s vs by hand "
        f"{results['start_by_hand_median_s']:.2f} s; fixed cost "
        f"{results['supervisor_fixed_cost_median_s']:.3f} s)   target <= 0.5 s"
    )
    print(
        f"proxy-added latency: {results['proxy_added_median_ms']:+.2f} ms median "
        f"(proxy {results['proxy_median_ms']:.2f} ms vs direct "
        f"{results['direct_median_ms']:.2f} ms; "
        f"paired {results['proxy_added_paired_median_ms']:+.2f} ms)"
        "   target <= 2 ms"
    )


if __name__ == "__main__":
    main()
