"""Four paths side by side, in one run: `make bench-compare` (issue 14; never asserted in tests).

The same chat requests, non-streamed and streamed, along four paths to the same upstream:
direct; through modelyard (a real `modelyard up`); through a LiteLLM proxy (its own venv, one
worker); through nginx `proxy_pass` (the floor of a proxy hop). See bench/hops.py for how
nginx and LiteLLM are configured.

Two upstreams. First bench/instant_upstream.py, which answers at once, so each proxy's own
cost is what shows: modelyard's supervisor starts it as a server it manages (`tier: hot`), and
the other paths target the port it got. Closed-loop clients (bench/loadgen.py) at each
concurrency level, the path order rotating every level and round so that drift on this shared
machine hits every path alike. Then the CPU profile's real tiny vLLM (`tiny-qwen-a`), at 1 and
8 clients, a few tokens per request.

Printed and saved (bench/results/compare-<date>.json): added latency (path minus direct, same
run) at each level; the highest req/s each path sustains with p99 under the bound; streams'
time to first byte; each proxy's CPU seconds per 1,000 requests and RSS; the load generator's
own ceiling beside the results (nginx answering by itself, a fifth path in the same rotation);
the issue's targets.

    python bench/compare.py [--quick] [--rounds N] [--duration S] [--no-vllm]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import compare_figures as figures
from bench import compare_report
from bench.hops import litellm_binary, nginx_binary, running_litellm, running_nginx
from bench.instant_upstream import completion
from bench.loadgen import LoadGen, Samples, Target
from bench.usage import Tree, spent
from harness.stack import Stack, free_port, running_stack, stack_config

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("direct", "modelyard", "litellm", "nginx")
CHAT = "/v1/chat/completions"
INSTANT = "instant"
VLLM = "tiny-qwen-a"
FLOOR = "nginx return 200"
PROMPT = [{"role": "user", "content": "Write a Python function that sorts a list"}]


@dataclass(frozen=True)
class Settings:
    rounds: int
    duration: float
    warmup: float
    levels: tuple[int, ...]
    bound_ms: float
    vllm: bool
    vllm_levels: tuple[int, ...]
    vllm_duration: float
    vllm_max_tokens: int
    litellm_workers: int
    results: Path


def parse_args() -> Settings:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="one short round, levels 1/8/32/128")
    parser.add_argument("--rounds", type=int, help="rounds over every path and level (default 2)")
    parser.add_argument("--duration", type=float, help="seconds measured per run (default 2)")
    parser.add_argument("--levels", help="concurrency levels, comma-separated")
    parser.add_argument("--bound-ms", type=float, default=50.0, help="p99 bound (default 50)")
    parser.add_argument("--no-vllm", action="store_true", help="leave out the tiny vLLM part")
    parser.add_argument("--litellm-workers", type=int, default=1, help="LiteLLM's --num_workers")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    quick = args.quick
    levels = args.levels or ("1,8,32,128" if quick else "1,2,4,8,16,32,64,128")
    return Settings(
        rounds=args.rounds or (1 if quick else 2),
        duration=args.duration or (1.0 if quick else 2.0),
        warmup=0.3 if quick else 0.5,
        levels=tuple(int(x) for x in levels.split(",")),
        bound_ms=args.bound_ms,
        vllm=not args.no_vllm,
        vllm_levels=(1, 8),
        vllm_duration=2.0 if quick else 4.0,
        vllm_max_tokens=8,
        litellm_workers=args.litellm_workers,
        results=args.results,
    )


def chat(model: str, stream: bool, max_tokens: int = 1) -> bytes:
    body: dict[str, Any] = {
        "model": model,
        "messages": PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0,  # the same tokens on every path (vLLM)
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()


@dataclass
class Cell:
    """Everything measured for one path at one level in one mode, over all rounds."""

    samples: Samples = field(default_factory=Samples)
    window_s: float = 0.0
    proxy_cpu: dict[int, float] = field(default_factory=dict)

    def add(self, run: Samples, cpu: dict[int, float]) -> None:
        self.samples.merge(run)
        self.window_s += run.window_s
        for pid, seconds in cpu.items():
            self.proxy_cpu[pid] = self.proxy_cpu.get(pid, 0.0) + seconds

    @property
    def rps(self) -> float:
        return self.samples.in_window / self.window_s if self.window_s else 0.0


Grid = dict[str, dict[int, Cell]]  # path -> clients -> cell


def sweep(
    loadgen: LoadGen,
    targets: dict[str, Target],
    trees: dict[str, Tree],
    levels: tuple[int, ...],
    rounds: int,
    warmup: float,
    duration: float,
    label: str,
) -> Grid:
    grid: Grid = {path: {level: Cell() for level in levels} for path in targets}
    order = list(targets)
    for r in range(rounds):
        for i, clients in enumerate(levels):
            shift = (r + i) % len(order)
            for path in order[shift:] + order[:shift]:
                below = levels[i - 1] if i else None
                seen = grid[path][clients].rps or (grid[path][below].rps if below else None)
                run_warmup, run_duration = figures.window(clients, seen, warmup, duration)
                before = trees[path].cpu()
                run = loadgen.run(targets[path], clients, run_duration, run_warmup)
                grid[path][clients].add(run, spent(before, trees[path].cpu()))
            line = "  ".join(f"{p} {grid[p][clients].rps:7.0f}" for p in order)
            print(
                f"  {label} round {r + 1}/{rounds}, {clients:3} clients, req/s: {line}", flush=True
            )
    return grid


def ensure(stack: Stack, name: str) -> dict[str, Any]:
    """The server's admin view (base_url, pid) once it is ready."""
    response = httpx.post(
        f"{stack.admin_url}/servers/{name}/ensure", headers=stack.admin_headers, timeout=600
    )
    response.raise_for_status()
    return stack.server(name)


def check_paths(targets: dict[str, Target], expect: bytes) -> None:
    """One plain request per path before any load: a wrong setup fails here, said plainly."""
    with httpx.Client(timeout=60) as client:
        for path, target in targets.items():
            url = f"http://{target.host}:{target.port}{target.path}"
            headers = {"content-type": "application/json", **dict(target.headers)}
            response = client.post(url, content=target.body, headers=headers)
            if response.status_code != 200 or expect not in response.content:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    binary = nginx_binary()
    if binary:
        out = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False)
        found["nginx"] = out.stderr.strip().split("/")[-1]
    litellm = litellm_binary()
    if litellm:
        code = "import importlib.metadata as m; print(m.version('litellm'))"
        out = subprocess.run(
            [str(litellm.with_name("python")), "-c", code], capture_output=True, text=True
        )
        found["litellm"] = out.stdout.strip()
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    found["modelyard"] = rev.stdout.strip()
    return found


class Interrupted(KeyboardInterrupt):
    pass


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Cleanup (every `with` below) must run to its end: later signals wait for it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


@dataclass(frozen=True)
class Paths:
    """The four paths, once everything is up: where each listens, and whose CPU to count."""

    ports: dict[str, int]  # path -> port, to the instant upstream
    vllm_ports: dict[str, int] | None  # path -> port, to the tiny vLLM
    trees: dict[str, Tree]  # path -> its process tree (direct: the upstream's own)
    vllm_tree: Tree | None
    floor_port: int  # nginx answering by itself
    key: str  # LiteLLM's master key, sent as a bearer token on every path

    def targets(self, body: bytes, vllm: bool = False) -> dict[str, Target]:
        ports = self.vllm_ports if vllm and self.vllm_ports else self.ports
        auth = (("authorization", f"Bearer {self.key}"),)
        return {path: Target("127.0.0.1", ports[path], CHAT, body, auth) for path in PATHS}


@contextlib.contextmanager
def four_paths(settings: Settings, tmp: Path) -> Iterator[Paths]:
    """`modelyard up` managing the upstreams, then nginx and LiteLLM in front of the same."""
    config = stack_config(tmp / "state", extra_servers={INSTANT: instant_server()})
    with contextlib.ExitStack() as stack:
        up = stack.enter_context(running_stack(tmp, config))
        upstream = ensure(up, INSTANT)
        vllm = ensure(up, VLLM) if settings.vllm else None
        ports = {"direct": _port(upstream["base_url"]), "modelyard": _port(up.proxy_url)}
        ports.update(litellm=free_port(), nginx=free_port())
        floor = free_port()
        routes = {ports["nginx"]: ports["direct"]}
        models = {INSTANT: upstream["base_url"] + "/v1"}
        vllm_ports = None
        if vllm:
            vllm_ports = {**ports, "direct": _port(vllm["base_url"]), "nginx": free_port()}
            routes[vllm_ports["nginx"]] = vllm_ports["direct"]
            models[VLLM] = vllm["base_url"] + "/v1"
        floor_body = completion(INSTANT).split(b"\r\n\r\n", 1)[1]
        nginx = stack.enter_context(running_nginx(tmp, routes, (floor, floor_body)))
        key = "sk-" + secrets.token_hex(16)
        litellm = stack.enter_context(
            running_litellm(tmp, models, ports["litellm"], key, settings.litellm_workers)
        )
        trees = {
            "direct": Tree(upstream["pid"]),
            "modelyard": Tree(up.proc.pid),
            "litellm": Tree(litellm.pid),
            "nginx": Tree(nginx.pid),
        }
        vllm_tree = Tree(vllm["pid"]) if vllm else None
        yield Paths(ports, vllm_ports, trees, vllm_tree, floor, key)


def measure(settings: Settings, paths: Paths, loadgen: LoadGen) -> dict[str, Any]:
    s, report = settings, dict[str, Any]()
    plain, streamed = paths.targets(chat(INSTANT, False)), paths.targets(chat(INSTANT, True))
    check_paths(plain, b'"ok"')
    check_paths(streamed, b"[DONE]")
    if paths.vllm_tree:
        vllm_targets = paths.targets(chat(VLLM, False, s.vllm_max_tokens), vllm=True)
        check_paths(vllm_targets, b'"choices"')
    # the vLLM server too: an engine that polled while idle would slow every other path
    idle = idle_cpu({**paths.trees, **({"vllm": paths.vllm_tree} if paths.vllm_tree else {})})
    report["idle_cpu_s_per_s"] = idle
    print("idle CPU (s/s): " + ", ".join(f"{k} {v:.3f}" for k, v in idle.items()))
    # nginx answering by itself runs as a fifth path in the rotation: the generator's ceiling,
    # measured level by level under the same conditions as the paths beside it
    floor = Target("127.0.0.1", paths.floor_port, CHAT, chat(INSTANT, False))
    trees = {**paths.trees, FLOOR: paths.trees["nginx"]}
    print(f"instant upstream, {s.rounds} round(s) over levels {s.levels}:")
    report["instant"] = {}
    for mode, targets in (("plain", {**plain, FLOOR: floor}), ("stream", streamed)):
        grid = sweep(loadgen, targets, trees, s.levels, s.rounds, s.warmup, s.duration, mode)
        report["instant"][mode] = grid_report(grid)
    report["ceiling"] = {"nginx_return_200": report["instant"]["plain"].pop(FLOOR)}
    if paths.vllm_tree:
        print(f"tiny vLLM ({VLLM}, max_tokens {s.vllm_max_tokens}):")
        trees = {**paths.trees, "direct": paths.vllm_tree}
        grid = sweep(
            loadgen, vllm_targets, trees, s.vllm_levels, s.rounds, 1.0, s.vllm_duration, "vllm"
        )
        report["vllm"] = grid_report(grid)
    report["rss_mb"] = {p: paths.trees[p].rss_mb() for p in PATHS if p != "direct"}
    report["processes"] = {p: paths.trees[p].describe() for p in PATHS}
    return report


def instant_server() -> dict[str, Any]:
    return {
        "model": INSTANT,
        "command": ["{python}", str(ROOT / "bench" / "instant_upstream.py"), "--port", "{port}"],
        "tier": "hot",  # never evicted: the other paths hold its port for the whole run
        "startup_timeout": 30,
        "stop_grace": 3,
    }


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


def idle_cpu(trees: dict[str, Tree], seconds: float = 3.0) -> dict[str, float]:
    """CPU seconds per second each process tree spends with no request in flight."""
    before = {path: tree.cpu() for path, tree in trees.items()}
    time.sleep(seconds)
    return {
        path: sum(spent(before[path], tree.cpu()).values()) / seconds
        for path, tree in trees.items()
    }


def grid_report(grid: Grid) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, cells in grid.items():
        out[path] = {}
        for clients, cell in cells.items():
            s = cell.samples
            out[path][str(clients)] = {
                "rps": cell.rps,
                "errors": s.errors,
                "latency_ms": figures.summary(s.latency_ms),
                "ttfb_ms": figures.summary(s.ttfb_ms),
                "added_ms": figures.added(s.latency_ms, grid["direct"][clients].samples.latency_ms),
                "added_ttfb_ms": figures.added(s.ttfb_ms, grid["direct"][clients].samples.ttfb_ms),
                "completed": s.completed,
                "proxy_cpu_s": cell.proxy_cpu,
                "loadgen_cpu_us": s.cpu_s * 1e6 / max(1, s.completed),
            }
    return out


def main() -> None:
    settings = parse_args()
    if isinstance(sys.stdout, io.TextIOWrapper):  # progress as it comes, also through a pipe
        sys.stdout.reconfigure(line_buffering=True)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    missing = [
        name
        for name, found in (("nginx", nginx_binary()), ("LiteLLM", litellm_binary()))
        if not found
    ]
    if missing:
        sys.exit(f"missing: {', '.join(missing)}; run `bash scripts/setup-bench.sh` first")
    began, load_before = time.monotonic(), os.getloadavg()
    if load_before[0] > 1.0:
        print(f"warning: load average {load_before[0]:.1f} before the run: other work on this")
        print("         machine will show in every path's figures (interleaving spreads it)")
    try:
        with (
            tempfile.TemporaryDirectory(prefix="modelyard-compare-") as tmp,
            LoadGen(processes=4) as loadgen,
            four_paths(settings, Path(tmp)) as paths,
        ):
            measured = measure(settings, paths, loadgen)
    except Interrupted as exc:
        sys.exit(f"interrupted ({exc}); everything started was stopped")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "versions": versions(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(settings).items()},
        "wall_s": round(time.monotonic() - began, 1),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        **measured,
    }
    report["summary"] = compare_report.summarize(report, settings.bound_ms)
    settings.results.mkdir(parents=True, exist_ok=True)
    out = settings.results / f"compare-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1))
    print(compare_report.tables(report))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
