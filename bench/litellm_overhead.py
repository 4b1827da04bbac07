"""What LiteLLM costs modelyard, and what modelyard adds to LiteLLM (issue 17):
`python bench/litellm_overhead.py` (never asserted in tests).

Three `modelyard up` variants (bench/litellm_report.py names them): from a venv without the
`litellm` extra (bench/bare_venv.py builds it), from the project's .venv with it, and from
.venv with a remote server configured as well. Each serves bench/instant_upstream.py as a
local server; the remote server calls another instant upstream through LiteLLM.

1. Start: spawn to the proxy's /health answering 200, each variant in turn, in rounds; for the
   remote variant also spawn to its first remote answer (LiteLLM is imported in the
   background: the proxy listens first).
2. Added latency for the local server: one client, one request at a time (bench/proxy_load.py's
   closed loop), straight to the upstream and through each variant's proxy, the six paths
   interleaved in rounds; the remote variant has answered a remote request first, so LiteLLM
   is loaded in it while its local path is measured.
3. The remote path against LiteLLM called directly: bench/litellm_client.py in a process of
   its own, the same request direct, through `litellm.acompletion` and through modelyard's
   remote server, plain and streamed.

Printed as Markdown tables and saved as bench/results/litellm-<date>.json.

    python bench/litellm_overhead.py [--starts 5] [--rounds 8] [--seconds 1] [--no-remote]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import bare_venv
from bench import litellm_report as report
from bench.compare import ensure
from bench.compare_figures import summary
from bench.proxy_load import CHAT, Phase, closed_loop
from bench.run_record import Run, save
from bench.usage import Tree
from harness.processes import interrupt
from harness.stack import MODELYARD, Stack, answers, free_port, shutdown, stack_config, wait_for

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
START_TIMEOUT = 120.0
HERE = Path(MODELYARD)  # this venv's `modelyard`: the one with the extra
POLL = 0.01  # s between /health polls while `up` starts: the start times' resolution


@dataclass(frozen=True)
class Started:
    stack: Stack
    spawned: float  # time.perf_counter() just before the spawn
    start_s: float  # spawn to the proxy's /health answering 200


@contextlib.contextmanager
def instant_upstream() -> Iterator[int]:
    """bench/instant_upstream.py on a free port, outside any supervisor: the remote's API."""
    port = free_port()
    command = [sys.executable, str(BENCH / "instant_upstream.py"), "--port", str(port)]
    proc = subprocess.Popen(command, start_new_session=True)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/health"), 30, "the instant upstream")
        yield port
    finally:
        interrupt(proc, grace=5)


def _healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def modelyard_up(binary: Path, folder: Path, remote_port: int | None) -> Iterator[Started]:
    """`binary up` on a config of its own, timed from the spawn to the proxy's /health."""
    folder.mkdir(parents=True)
    config = stack_config(folder / "state", extra_servers=report.servers(remote_port))
    config_path, log_path = folder / "servers.yaml", folder / "up.log"
    config_path.write_text(json.dumps(config))  # YAML's superset: no dumper in the timing
    env = {**os.environ, report.KEY_ENV: "none"}
    health = f"http://127.0.0.1:{config['proxy']['port']}/health"
    with log_path.open("wb") as log, httpx.Client(timeout=1) as client:
        spawned = time.perf_counter()
        proc = subprocess.Popen(
            [str(binary), "up", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        stack = Stack(proc, config, config_path, log_path)
        try:
            while not _healthy(client, health):
                if proc.poll() is not None or time.perf_counter() - spawned > START_TIMEOUT:
                    raise RuntimeError(f"{binary} up did not start:\n{stack.log()[-3000:]}")
                time.sleep(POLL)
            started = Started(stack, spawned, time.perf_counter() - spawned)
            wait_for(lambda: answers(stack.admin_url + "/health"), 30, "the supervisor")
            yield started
        finally:
            shutdown(stack)


def remote_answer(stack: Stack) -> None:
    """One chat request to the remote server; it must be answered."""
    body = {"model": report.REMOTE, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{stack.proxy_url}{CHAT}", json=body, timeout=120)
    if response.status_code != 200:
        raise RuntimeError(f"remote server: HTTP {response.status_code}: {response.text[:300]}")


def time_starts(
    binaries: dict[str, Path], tmp: Path, upstream: int | None, rounds: int
) -> dict[str, dict[str, list[float]]]:
    """Round 0 is a warm-up, not kept: the first start of each reads its files from disk."""
    starts: dict[str, dict[str, list[float]]] = {v: {"start_s": []} for v in binaries}
    order = list(binaries)
    for r in range(rounds + 1):
        shift = r % len(order)
        for variant in order[shift:] + order[:shift]:
            remote = upstream if variant == report.WITH_REMOTE else None
            with modelyard_up(binaries[variant], tmp / f"start-{r}-{variant}", remote) as up:
                first = math.nan
                if remote is not None:
                    remote_answer(up.stack)
                    first = time.perf_counter() - up.spawned
            print(f"  start round {r}/{rounds}, {variant}: {up.start_s:.2f} s", flush=True)
            if r > 0:
                starts[variant]["start_s"].append(up.start_s)
                if remote is not None:
                    starts[variant].setdefault("first_remote_s", []).append(first)
    return starts


async def _interleaved(
    urls: dict[tuple[str, str], str], rounds: int, seconds: float
) -> dict[tuple[str, str], Phase]:
    found = {key: Phase() for key in urls}
    for url in urls.values():  # connections, the proxy's memory of the server's address
        await closed_loop(url, 1, 0.3)
    order = list(urls)
    for r in range(rounds):
        shift = r % len(order)
        for key in order[shift:] + order[:shift]:
            phase = await closed_loop(urls[key], 1, seconds)
            found[key].latencies += phase.latencies
            found[key].errors += phase.errors
    return found


def local_latency(
    stacks: dict[str, Stack], rounds: int, seconds: float
) -> dict[str, dict[str, Any]]:
    """Each variant's figures; `errors`: requests not answered 200, direct or via its proxy
    (the run goes on: its table shows them, and main keeps that proxy's log)."""
    urls = {}
    for variant, stack in stacks.items():
        urls[(variant, "direct")] = ensure(stack, report.LOCAL)["base_url"] + CHAT
        urls[(variant, "proxy")] = stack.proxy_url + CHAT
    found = uvloop.run(_interleaved(urls, rounds, seconds))
    local = {}
    for variant, stack in stacks.items():
        direct, proxy = found[(variant, "direct")], found[(variant, "proxy")]
        local[variant] = report.latency_figures(direct.latencies, proxy.latencies)
        local[variant]["errors"] = direct.errors + proxy.errors
        local[variant]["rss_mb"] = sum(Tree(stack.proc.pid).rss_mb().values())
    return local


def remote_latency(stack: Stack, upstream: int, rounds: int, requests: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(BENCH / "litellm_client.py"),
        *("--direct", f"http://127.0.0.1:{upstream}/v1", "--modelyard", stack.proxy_url + "/v1"),
        *("--upstream-model", report.UPSTREAM_MODEL, "--modelyard-model", report.REMOTE),
        *("--rounds", str(rounds), "--requests", str(requests)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the remote client failed:\n{done.stderr[-3000:]}")
    samples = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        mode: {
            path: {kind: summary(values) for kind, values in figures.items() if values}
            for path, figures in paths.items()
        }
        for mode, paths in samples.items()
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--starts", type=int, default=5, help="start rounds over the variants")
    parser.add_argument("--rounds", type=int, default=8, help="local latency rounds")
    parser.add_argument("--seconds", type=float, default=1.0, help="per local path and round")
    parser.add_argument("--remote-rounds", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per remote path and round")
    parser.add_argument("--no-remote", action="store_true", help="local variants only")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    return parser.parse_args()


def save_log(stack: Stack, folder: Path, variant: str) -> Path:
    """A copy of `up`'s log where the JSON goes: the run's temp folder is removed at its end."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f"litellm-{time.strftime('%Y%m%d-%H%M%S')}-{variant}-up.log"
    shutil.copyfile(stack.log_path, kept)
    return kept


def measure(args: argparse.Namespace, tmp: Path, upstream: int | None) -> dict[str, Any]:
    binaries = {report.BARE: bare_venv.ensure().with_name("modelyard"), report.EXTRA: HERE}
    if upstream is not None:
        binaries[report.WITH_REMOTE] = HERE
    print(f"start times, {args.starts} rounds:", flush=True)
    measured: dict[str, Any] = {"starts": time_starts(binaries, tmp, upstream, args.starts)}
    with contextlib.ExitStack() as running:
        stacks = {}
        for variant, binary in binaries.items():
            remote = upstream if variant == report.WITH_REMOTE else None
            up = running.enter_context(modelyard_up(binary, tmp / f"run-{variant}", remote))
            stacks[variant] = up.stack
        if upstream is not None:  # LiteLLM loaded in that proxy before its local path is timed
            remote_answer(stacks[report.WITH_REMOTE])
        print(f"local latency, {args.rounds} rounds x {args.seconds:g} s per path", flush=True)
        measured["local"] = local_latency(stacks, args.rounds, args.seconds)
        for variant, figures in measured["local"].items():
            if figures["errors"]:
                kept = save_log(stacks[variant], args.results, variant)
                print(f"warning: {variant}: {figures['errors']} failed requests; log: {kept}")
        if upstream is not None:
            print(f"remote path, {args.remote_rounds} rounds x {args.requests}", flush=True)
            stack = stacks[report.WITH_REMOTE]
            measured["remote"] = remote_latency(stack, upstream, args.remote_rounds, args.requests)
    return measured


def main() -> None:
    args = parse_args()
    if not args.no_remote and not (ROOT / "proxy" / "remote.py").exists():
        sys.exit("proxy/remote.py is missing: no remote servers yet; run with --no-remote")
    run = Run.start()
    with (
        tempfile.TemporaryDirectory(prefix="modelyard-litellm-") as tmp,
        contextlib.ExitStack() as upstreams,
    ):
        upstream = None if args.no_remote else upstreams.enter_context(instant_upstream())
        measured = measure(args, Path(tmp), upstream)
    result = {**run.record(vars(args), {"litellm": metadata.version("litellm")}), **measured}
    out = save(result, args.results, "litellm")
    print(report.tables(result))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
