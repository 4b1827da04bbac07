"""The client process of bench/litellm_overhead.py's remote part (issue 17): the same small
chat request to one instant upstream three ways, in one event loop, interleaved in rounds:

- direct: httpx to the upstream;
- litellm: `litellm.acompletion` in this process (LiteLLM's SDK called directly, as an app
  that embeds it would), `openai/<model>` with the upstream as `api_base`;
- modelyard: httpx to a modelyard proxy whose remote server calls the same upstream through
  LiteLLM.

Plain and streamed; per request the time to the whole answer and, for a stream, to its first
chunk. LiteLLM is imported before anything is timed (it takes seconds), without fetching its
price map, and never retries (neither does the proxy's remote call). Prints one JSON object:
{mode: {path: {"total_ms": [...], "ttfb_ms": [...]}}}.

    python bench/litellm_client.py --direct URL --modelyard URL [--rounds N] [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

PROMPT = [{"role": "user", "content": "hi"}]
Call = Callable[[bool], Awaitable[float | None]]  # stream? -> seconds to the first chunk


def _body(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": PROMPT, "max_tokens": 1}
    return {**body, "stream": True} if stream else body


def over_http(client: httpx.AsyncClient, base: str, model: str) -> Call:
    """A chat request to an OpenAI-compatible base URL, the answer read to its end."""

    async def call(stream: bool) -> float | None:
        began = time.perf_counter()
        async with client.stream(
            "POST", f"{base}/chat/completions", json=_body(model, stream)
        ) as r:
            if r.status_code != 200:
                raise RuntimeError(f"{base}: HTTP {r.status_code}: {(await r.aread())[:300]!r}")
            first = None
            async for _ in r.aiter_raw():
                first = first or time.perf_counter() - began
        return first if stream else None

    return call


def through_litellm(base: str, model: str) -> Call:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no fetch of its price map at import
    import litellm

    litellm.telemetry = False
    litellm.suppress_debug_info = True

    async def call(stream: bool) -> float | None:
        began = time.perf_counter()
        answer = await litellm.acompletion(
            model=f"openai/{model}",
            api_base=base,
            api_key="none",
            messages=PROMPT,
            max_tokens=1,
            stream=stream,
            num_retries=0,
            max_retries=0,
        )
        if not stream:
            return None
        first = None
        async for _ in answer:
            first = first or time.perf_counter() - began
        return first

    return call


async def measure(
    calls: dict[str, Call], rounds: int, requests: int, warmup: int
) -> dict[str, dict[str, dict[str, list[float]]]]:
    found: dict[str, dict[str, dict[str, list[float]]]] = {}
    for stream in (False, True):
        for call in calls.values():  # connections, clients, the proxy's first remote call
            for _ in range(warmup):
                await call(stream)
    order = list(calls)
    for r in range(rounds):
        for stream in (False, True):
            mode = found.setdefault("stream" if stream else "plain", {})
            shift = r % len(order)
            for path in order[shift:] + order[:shift]:
                samples = mode.setdefault(path, {"total_ms": [], "ttfb_ms": []})
                for _ in range(requests):
                    began = time.perf_counter()
                    first = await calls[path](stream)
                    samples["total_ms"].append((time.perf_counter() - began) * 1000)
                    if first is not None:
                        samples["ttfb_ms"].append(first * 1000)
    return found


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=60) as client:
        calls = {
            "direct": over_http(client, args.direct, args.upstream_model),
            "litellm": through_litellm(args.direct, args.upstream_model),
            "modelyard": over_http(client, args.modelyard, args.modelyard_model),
        }
        return await measure(calls, args.rounds, args.requests, args.warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--direct", required=True, help="the upstream's base URL (…/v1)")
    parser.add_argument("--modelyard", required=True, help="the proxy's base URL (…/v1)")
    parser.add_argument("--upstream-model", default="instant")
    parser.add_argument("--modelyard-model", default="far", help="the remote server's name")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per path, mode and round")
    parser.add_argument("--warmup", type=int, default=20, help="per path and mode, untimed")
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
