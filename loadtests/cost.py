"""The proxy's CPU per request for each entry of the mix, one entry at a time, against a fake
that answers at once (loadtests/fakes.py): where `make load`'s CPU seconds per 1,000 requests
come from. One client, requests back to back; CPU from /proc (10 ms ticks, hence the count).

    python -m loadtests.cost [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import httpx
import psutil

from harness.stack import stack_config
from loadtests.fakes import fakes_only
from loadtests.media import write_media
from loadtests.mix import LOAD, NAMED_SERVER, Entry, Media
from loadtests.stack import running, warm
from loadtests.summary import markdown


def measure(
    client: httpx.Client, proxy: psutil.Process, entry: Entry, media: Media, count: int
) -> list[str]:
    rng = random.Random(14)
    calls = [entry.build(media, rng) for _ in range(count + 5)]
    sizes = []
    for n, call in enumerate(calls):
        if n == 5:  # the first five warm the path up, uncounted
            cpu = sum(proxy.cpu_times()[:2])
            started = time.perf_counter()
        body, content_type = call.encoded()
        sizes.append(len(body))
        path = f"{call.path}?{call.query}" if call.query else call.path
        answer = client.post(path, content=body, headers={"content-type": content_type})
        answer.raise_for_status()
    spent = (sum(proxy.cpu_times()[:2]) - cpu) / count * 1000
    wall = (time.perf_counter() - started) / count * 1000
    kib = sum(sizes[5:]) / count / 1024
    return [entry.name, f"{kib:,.1f}", f"{spent:.2f}", f"{wall:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-cost-") as tmp:
        folder = Path(tmp)
        media = write_media(folder / "media")
        config = stack_config(folder / "state")
        fakes_only(config)
        with (
            running(folder, config) as stack,
            httpx.Client(base_url=stack.proxy_url, timeout=60) as client,
        ):
            warm(stack, [NAMED_SERVER])
            proxy = psutil.Process(stack.proxy.pid)
            rows = [measure(client, proxy, entry, media, args.requests) for entry in LOAD]
    header = ["entry", "body KiB", "proxy CPU ms/req", "wall ms/req"]
    print(markdown(header, rows))


if __name__ == "__main__":
    main()
