"""Swap benchmark, printed by `make bench`: A -> B -> A on the CPU profile, cold tier.

Two tiny vLLM servers with 2 GiB budgets under a 3 GiB ceiling, so only one fits: every
ensure of the other one evicts (stops) the resident one. Each swap is timed as a whole
(`POST /servers/B/ensure` until ready, eviction included) and then split into its parts,
measured the same way by hand: stop A, start B, first streamed token from B.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.stack import running_stack, stack_config

A, B = "tiny-qwen-a", "tiny-qwen-b"


def timed(call: object) -> float:
    began = time.perf_counter()
    response = call()  # type: ignore[operator]
    response.raise_for_status()
    return time.perf_counter() - began


def first_token(proxy: str, model: str) -> float:
    body = {"model": model, "prompt": "hello", "max_tokens": 4, "stream": True}
    began = time.perf_counter()
    with httpx.stream("POST", f"{proxy}/v1/completions", json=body, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {"):
                return time.perf_counter() - began
    raise RuntimeError("no token streamed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--swaps", type=int, default=3, help="A->B->A round trips")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-swap-") as tmp_:
        tmp = Path(tmp_)
        config = stack_config(tmp / "state", memory_cap_gb=3, queue_timeout=60)
        for name in (A, B):
            config["servers"][name]["gpu_memory_gb"] = 2
        with running_stack(tmp, config) as stack:
            admin = stack.admin_url

            def post(path: str) -> object:
                return lambda: httpx.post(f"{admin}{path}", timeout=600)

            timed(post(f"/servers/{A}/ensure"))
            whole, stop, start, token = [], [], [], []
            for i in range(args.swaps):
                print(f"round {i + 1}: {A} -> {B} (eviction) -> {A} (by hand)", flush=True)
                whole.append(timed(post(f"/servers/{B}/ensure")))  # stops A, starts B
                token.append(first_token(stack.proxy_url, B))
                stop.append(timed(post(f"/servers/{B}/stop")))  # the same swap, in parts
                start.append(timed(post(f"/servers/{A}/ensure")))
                token.append(first_token(stack.proxy_url, A))
    med = statistics.median
    results = {
        "swaps": len(whole),
        "swap_ensure_median_s": round(med(whole), 3),
        "stop_median_s": round(med(stop), 3),
        "start_median_s": round(med(start), 3),
        "first_token_after_swap_median_s": round(med(token), 3),
        "swap_minus_parts_s": round(med(whole) - med(stop) - med(start), 3),
    }
    print(json.dumps(results, indent=2))
    print(
        f"\nswap (eviction + start): {results['swap_ensure_median_s']:.2f} s = stop "
        f"{results['stop_median_s']:.2f} s + start {results['start_median_s']:.2f} s "
        f"{results['swap_minus_parts_s']:+.2f} s; first token then "
        f"{results['first_token_after_swap_median_s'] * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
