"""The proxy's added latency on each API, in one run: `make bench-api` (never asserted in tests).

The same request straight to the vLLM server and through the proxy (`model: auto`, so the
classifier runs as it would for an app), interleaved one by one on one keep-alive client per
path, after a warm-up; medians and the paired median of (proxy - direct):

- chat: a non-streamed 16-token chat completion on tiny-qwen-a (the reference);
- embeddings: one short input on tiny-embed;
- responses (stream): a streamed 16-token Responses request on tiny-qwen-a, timed to its
  first event and to its last byte.

Real vLLM servers on the CPU profile; the figures go in docs/benchmarks.md with the date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.stack import running_stack, stack_config

CHAT_SERVER = "tiny-qwen-a"
EMBED_SERVER = "tiny-embed"
WARMUP = 10


def chat_body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Write a Python function that sorts a list"}],
        "max_tokens": 16,
        "temperature": 0,
        "ignore_eos": True,
    }


def embed_body(model: str) -> dict[str, Any]:
    return {"model": model, "input": "GPU memory for retrieval in Hindi and Tamil"}


def responses_body(model: str) -> dict[str, Any]:
    return {
        "model": model,
        "input": "Write a Python function that sorts a list",
        "max_output_tokens": 16,
        "temperature": 0,
        "stream": True,
    }


Timing = dict[str, float]  # "total" (and "first" for a stream), milliseconds


def plain(client: httpx.Client, url: str, body: dict[str, Any]) -> Timing:
    began = time.perf_counter()
    response = client.post(url, json=body)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    return {"total": elapsed * 1000}


def streamed(client: httpx.Client, url: str, body: dict[str, Any]) -> Timing:
    began = time.perf_counter()
    first = None
    events = 0
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            if first is None:
                first = time.perf_counter() - began
            events += chunk.count(b"\nevent: ") + chunk.startswith(b"event: ")
    total = time.perf_counter() - began
    assert first is not None and events > 2, "the stream carried no events"
    return {"first": first * 1000, "total": total * 1000}


Case = tuple[str, str, Callable[[str], dict[str, Any]], str, Callable[..., Timing]]
CASES: list[Case] = [
    ("chat", "/v1/chat/completions", chat_body, CHAT_SERVER, plain),
    ("embeddings", "/v1/embeddings", embed_body, EMBED_SERVER, plain),
    ("responses (stream)", "/v1/responses", responses_body, CHAT_SERVER, streamed),
]


def measure(proxy: str, direct: dict[str, str], requests: int) -> dict[str, dict[str, list[float]]]:
    """{case: {"proxy.total": [...], "direct.total": [...], ...}}, interleaved request by
    request across every case, so drift on this shared machine hits each alike."""
    results: dict[str, dict[str, list[float]]] = {name: {} for name, *_ in CASES}
    with httpx.Client(timeout=120) as via_proxy, httpx.Client(timeout=120) as via_direct:
        for i in range(requests + WARMUP):
            for name, path, body, server, timed in CASES:
                sides = (
                    ("proxy", via_proxy, proxy + path, body("auto")),
                    ("direct", via_direct, direct[server] + path, body(server)),
                )
                for side, client, url, sent in sides:
                    timing = timed(client, url, sent)
                    if i >= WARMUP:
                        for key, ms in timing.items():
                            results[name].setdefault(f"{side}.{key}", []).append(ms)
    return results


def summary(results: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    med = statistics.median
    table: dict[str, Any] = {}
    for name, series in results.items():
        row: dict[str, Any] = {}
        for key in ("first", "total"):
            p, d = series.get(f"proxy.{key}"), series.get(f"direct.{key}")
            if not p or not d:
                continue
            pairs = [a - b for a, b in zip(p, d, strict=True)]
            row[key] = {
                "direct_median_ms": round(med(d), 2),
                "proxy_median_ms": round(med(p), 2),
                "added_median_ms": round(med(p) - med(d), 2),
                "added_paired_median_ms": round(med(pairs), 2),
            }
        table[name] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per path and API")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-api-") as tmp_:
        tmp = Path(tmp_)
        with running_stack(tmp, stack_config(tmp / "state")) as stack:
            direct = {}
            for server in (CHAT_SERVER, EMBED_SERVER):
                ensured = httpx.post(
                    f"{stack.admin_url}/servers/{server}/ensure",
                    headers=stack.admin_headers,
                    timeout=600,
                )
                ensured.raise_for_status()
                direct[server] = ensured.json()["base_url"]
            results = measure(stack.proxy_url, direct, args.requests)
    table = summary(results)
    report = {
        "machine": f"{platform.node()} {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "requests_per_side": args.requests,
        "apis": table,
    }
    print(json.dumps(report, indent=2))
    print()
    for name, row in table.items():
        for key, figures in row.items():
            print(
                f"{name:20} {key:5}  direct {figures['direct_median_ms']:8.2f} ms  "
                f"proxy {figures['proxy_median_ms']:8.2f} ms  "
                f"added {figures['added_median_ms']:+6.2f} ms "
                f"(paired {figures['added_paired_median_ms']:+6.2f} ms)"
            )


if __name__ == "__main__":
    main()
