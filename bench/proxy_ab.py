"""Proxy-added latency of two checkouts side by side, in one run: this one (A) and another
(B, `--other PATH`: say a worktree of the commit before a refactor, to show the change made the
proxy no slower). Each is a real `modelyard up` in front of its own instant upstream
(harness/fake_vllm.py --chat-reply ok), so no generation time hides the proxy's own cost.
Every round sends four requests in a rotating order, each path on its own keep-alive client:
straight to A's upstream, through A, straight to B's upstream, through B. Printed: the median
and p90 of each path and of the paired differences (through minus straight, same round).

    python bench/proxy_ab.py --other /tmp/old [--rounds 500]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.stack import Stack, fake_server, running_stack, stack_config

BODY = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
PATHS = ("A direct", "A proxy", "B direct", "B proxy")


@contextlib.contextmanager
def stack_of(checkout: Path | None, tmp: Path) -> Iterator[tuple[Stack, str]]:
    """`modelyard up` from `checkout` (None: this one), and the fake upstream's URL once ready."""
    tmp.mkdir(parents=True)
    config = stack_config(tmp / "state", extra_servers={"fast": fake_server("--chat-reply", "ok")})
    saved = os.environ.get("PYTHONPATH")
    if checkout is not None:  # the child imports that checkout's packages first
        os.environ["PYTHONPATH"] = str(checkout)
    try:
        with running_stack(tmp, config) as stack:
            if checkout is not None:
                _restore(saved)
            ready = httpx.post(f"{stack.admin_url}/servers/fast/ensure", timeout=120).json()
            yield stack, ready["base_url"]
    finally:
        _restore(saved)


def _restore(saved: str | None) -> None:
    if saved is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = saved


def measure(urls: dict[str, str], rounds: int) -> dict[str, list[float]]:
    clients = {name: httpx.Client(timeout=30) for name in urls}
    times: dict[str, list[float]] = {name: [] for name in urls}
    try:
        for i in range(rounds + 20):
            order = PATHS[i % 4 :] + PATHS[: i % 4]  # rotate, so no path always goes first
            for name in order:
                began = time.perf_counter()
                response = clients[name].post(urls[name], json={**BODY, "model": "fast"})
                elapsed = (time.perf_counter() - began) * 1000
                response.raise_for_status()
                if i >= 20:  # the first rounds warm every path up
                    times[name].append(elapsed)
    finally:
        for client in clients.values():
            client.close()
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, required=True, help="the other checkout (B)")
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    chat = "/v1/chat/completions"
    with (
        tempfile.TemporaryDirectory(prefix="modelyard-ab-") as tmp_,
        stack_of(None, Path(tmp_) / "a") as (a, a_upstream),
        stack_of(args.other.resolve(), Path(tmp_) / "b") as (b, b_upstream),
    ):
        urls = {
            "A direct": a_upstream + chat,
            "A proxy": a.proxy_url + chat,
            "B direct": b_upstream + chat,
            "B proxy": b.proxy_url + chat,
        }
        times = measure(urls, args.rounds)
    print(f"proxy-added latency, A = this checkout, B = {args.other} ({args.rounds} rounds, ms)")
    print(f"{'':28}{'median':>8}{'p90':>8}")
    for name in PATHS:
        print(f"{name:28}{statistics.median(times[name]):8.2f}{p90(times[name]):8.2f}")
    for side in ("A", "B"):
        pairs = [
            p - d for p, d in zip(times[f"{side} proxy"], times[f"{side} direct"], strict=True)
        ]
        label = f"{side} added: paired differences"
        print(f"{label:28}{statistics.median(pairs):+8.2f}{p90(pairs):+8.2f}")


if __name__ == "__main__":
    main()
