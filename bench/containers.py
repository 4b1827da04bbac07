"""Container starts (issue 13), printed by `make bench` (never asserted in tests).

One image and one command, started two ways on one Docker engine, interleaved round by round
(the order alternates, so neither side always follows its twin's warm caches):

(a) bare: `docker run -d --network host IMAGE CMD` from the CLI, then its health URL polled every
    20 ms until the first 200; `docker stop` and `docker rm` timed apart.
(b) modelyard: `POST /servers/NAME/ensure` on a real `modelyard supervisor` whose config declares
    the same container (`launcher: docker`), until its reply; then `POST /servers/NAME/stop`.

The engine's own events (create, start) split each start into: the caller until the engine
creates the container (the CLI's own start-up, or the supervisor's request handling, placement
and SDK calls), create to start (the engine), and start until the caller knows it is ready.
The supervisor's fixed cost: ensure wall time minus the launch-to-ready time it records itself.

The engine: the one MODELYARD_TEST_DOCKER_HOST names (its base image already there), else one
that harness.docker_engine starts for the run and stops after it. Where none can run (no docker
CLI, an engine that does not answer, or none can start) it says why, prints a "skipped" line
and exits 0, so `make bench` goes on to the other benches.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import docker_engine
from harness.processes import interrupt
from harness.stack import MODELYARD, SERVER_PORTS, free_port, wait_for

SERVER = "http-box"
POLL = 0.02
GRACE = 5  # docker stop -t / stop_grace; the workload exits on SIGTERM at once
# `python3 -m http.server` as a container's PID 1 ignores SIGTERM (the kernel drops signals that
# PID 1 installed no handler for), so every stop would wait out the grace. This one exits on it,
# as vLLM does; `GET /` answers 200 (a directory listing) from the first moment it listens.
SERVE_CODE = (
    "import signal, sys; from http import server; "
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
    "server.test(server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind=sys.argv[2])"
)
SERVE = ["python3", "-c", SERVE_CODE, "{port}", "{host}"]


class Skip(Exception):
    """No engine to measure on; the message says why."""


@dataclass
class Run:
    """One start and stop, either way. Durations in seconds; `*_at` are wall-clock times."""

    start: float  # request until the caller knows it is ready
    stop: float  # bare: `docker stop`; modelyard: POST stop (its stop and removal)
    remove: float = 0.0  # bare only: `docker rm`, after the stop
    began_at: float = 0.0
    events: dict[str, float] = field(default_factory=dict)  # engine action -> wall time
    recorded: float | None = None  # modelyard only: its own ready_at - started_at

    def phases(self) -> tuple[float, float, float] | None:
        """(caller to create, create to start, start to ready seen), from the engine's events."""
        if "create" not in self.events or "start" not in self.events:
            return None
        create, start = self.events["create"], self.events["start"]
        ready = self.began_at + self.start
        return create - self.began_at, start - create, ready - start


class Docker:
    def __init__(self, host: str) -> None:
        self.host = host

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["docker", "-H", self.host, *args], capture_output=True, text=True, timeout=120
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def events(self, container: str, since: float) -> dict[str, float]:
        """The first time of each action the engine logged for `container` since `since`."""
        lines = self(
            "events",
            *("--since", f"{since:.6f}", "--until", f"{time.time():.6f}"),
            *("--filter", f"container={container}", "--format", "{{.Action}} {{.TimeNano}}"),
        ).splitlines()
        seen: dict[str, float] = {}
        for line in lines:
            action, nanos = line.split()
            seen.setdefault(action, int(nanos) / 1e9)
        return seen


def wait_http(client: httpx.Client, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if client.get(url).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout} s")
        time.sleep(POLL)


def bare_run(docker: Docker, image: str, name: str, client: httpx.Client) -> Run:
    port = free_port()
    command = [arg.format(port=port, host="127.0.0.1") for arg in SERVE]
    began_at, began = time.time(), time.monotonic()
    docker("run", "-d", "--network", "host", "--name", name, image, *command)
    wait_http(client, f"http://127.0.0.1:{port}/", 60)
    start = time.monotonic() - began
    began = time.monotonic()
    docker("stop", "-t", str(GRACE), name)
    stop = time.monotonic() - began
    began = time.monotonic()
    docker("rm", name)
    remove = time.monotonic() - began
    events = docker.events(name, began_at - 1)
    return Run(start, stop, remove, began_at, events)


def supervised_run(docker: Docker, admin: str, client: httpx.Client) -> Run:
    began_at, began = time.time(), time.monotonic()
    response = client.post(f"{admin}/servers/{SERVER}/ensure")
    start = time.monotonic() - began
    if response.status_code != 200:
        raise RuntimeError(f"ensure answered {response.status_code}: {response.text}")
    info = response.json()
    began = time.monotonic()
    client.post(f"{admin}/servers/{SERVER}/stop").raise_for_status()
    stop = time.monotonic() - began
    recorded = info["ready_at"] - info["started_at"]
    events = docker.events(info["container_id"], began_at - 1)
    return Run(start, stop, 0.0, began_at, events, recorded)


def supervisor_config(
    engine: docker_engine.Engine, state_dir: Path, instance: str
) -> dict[str, Any]:
    first = random.randrange(*SERVER_PORTS, 100)
    return {
        "supervisor": {
            "host": "127.0.0.1",
            "port": free_port(),
            "port_range": [first, first + 99],
            "state_dir": str(state_dir),
            "docker": {"host": engine.host, "instance": instance},
        },
        "servers": {
            SERVER: {
                "model": "none",  # nothing to load: the image's http.server answers at once
                "launcher": "docker",
                "container": {
                    "image": engine.base_image,
                    "network": "host",
                    "pull": "never",
                    "gpus": False,
                },
                "command": SERVE,
                "health_path": "/",
                "tier": "cold",
                "gpu_memory_gb": 0.1,  # no NVML on the CPU box: accounted against host RAM
                "startup_timeout": 60,
                "stop_grace": GRACE,
            }
        },
        # the proxy's settings are validated too: one intent routed here, none of the defaults
        "routes": {"box": [SERVER]},
        "classifier": {"default_intents": False, "default": "box", "intents": {"box": {}}},
    }


@contextlib.contextmanager
def running_supervisor(tmp: Path, config: dict[str, Any]) -> Iterator[str]:
    """`modelyard supervisor` on its config; the admin URL. SIGINT on leaving (it removes its
    containers: keep_servers is off), SIGKILL if it lingers."""
    path = tmp / "servers.yaml"
    path.write_text(yaml.safe_dump(config))
    log_path = tmp / "supervisor.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [MODELYARD, "supervisor", "--config", str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    admin = f"http://127.0.0.1:{config['supervisor']['port']}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"modelyard supervisor exited:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{admin}/health", timeout=1).status_code == 200
        return False

    try:
        wait_for(answers, 60, "modelyard supervisor to answer")
        yield admin
    except Exception:
        print(f"supervisor log (tail):\n{log_path.read_text()[-3000:]}", file=sys.stderr)
        raise
    finally:
        interrupt(proc, 60)


@contextlib.contextmanager
def an_engine(work: Path) -> Iterator[docker_engine.Engine]:
    """MODELYARD_TEST_DOCKER_HOST's engine, else one started here (and stopped on leaving)."""
    if shutil.which("docker") is None:
        raise Skip("no docker CLI on PATH")
    engine = docker_engine.from_env()
    if engine is not None:
        yield engine
        return
    try:
        engine = docker_engine.start(work)
    except docker_engine.EngineUnavailable as exc:
        raise Skip(str(exc)) from exc
    try:
        yield engine
    finally:
        docker_engine.stop(engine)


def remove_leftovers(docker: Docker, instance: str, bare_prefix: str) -> None:
    """Containers either side may have left behind (an interrupted round, a failed stop)."""
    ids = docker("ps", "-aq", "--filter", f"label=io.modelyard.instance={instance}", check=False)
    ids += "\n" + docker("ps", "-aq", "--filter", f"name={bare_prefix}", check=False)
    for cid in ids.split():
        docker("rm", "-f", cid, check=False)


def measure(engine: docker_engine.Engine, tmp: Path, rounds: int) -> dict[str, object]:
    docker = Docker(engine.host)
    try:
        driver, version = docker("info", "--format", "{{.Driver}} {{.ServerVersion}}").split()
    except RuntimeError as exc:
        raise Skip(f"the engine at {engine.host} does not answer: {exc}") from exc
    if not docker("images", "-q", engine.base_image):
        raise Skip(f"the engine at {engine.host} lacks the image {engine.base_image}")
    instance = f"bench-{os.getpid()}"
    bare_prefix = f"modelyard-bench-bare-{os.getpid()}-"
    config = supervisor_config(engine, tmp / "state", instance)
    bare: list[Run] = []
    supervised: list[Run] = []
    try:
        # One client per side for the whole run: building an httpx.Client costs ~50 ms on this
        # box (its SSL context), which a client per request would charge to the side using it.
        with (
            running_supervisor(tmp, config) as admin,
            httpx.Client(timeout=1) as poller,
            httpx.Client(timeout=120) as caller,
        ):
            for i in range(rounds + 1):  # round 0 warms both paths up, uncounted
                line = [f"round {i}{' (warm-up)' if i == 0 else ''}:"]
                for side in ("bare", "modelyard") if i % 2 else ("modelyard", "bare"):
                    if side == "bare":
                        result = bare_run(docker, engine.base_image, f"{bare_prefix}{i}", poller)
                    else:
                        result = supervised_run(docker, admin, caller)
                    line.append(f"{side} {result.start:.3f} s")
                    if i:
                        (bare if side == "bare" else supervised).append(result)
                print(" ".join(line), flush=True)
    finally:
        remove_leftovers(docker, instance, bare_prefix)
    return summary(bare, supervised, driver, version)


def summary(bare: list[Run], sup: list[Run], driver: str, version: str) -> dict[str, object]:
    med = statistics.median

    def ms(values: list[float]) -> float:
        return round(med(values) * 1000, 1)

    bare_starts, sup_starts = [r.start for r in bare], [r.start for r in sup]
    results: dict[str, object] = {
        "engine": f"Docker {version}, storage driver {driver}",
        "machine": f"{os.uname().machine}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d"),
        "rounds": len(bare),
        "bare_start_ms": ms(bare_starts),
        "modelyard_start_ms": ms(sup_starts),
        "overhead_of_medians_ms": round((med(sup_starts) - med(bare_starts)) * 1000, 1),
        "overhead_paired_median_ms": ms(
            [s - b for s, b in zip(sup_starts, bare_starts, strict=True)]
        ),
        "ratio": round(med(sup_starts) / med(bare_starts), 2),
        "fixed_cost_ms": ms([r.start - (r.recorded or 0.0) for r in sup]),
        "bare_stop_ms": ms([r.stop for r in bare]),
        "bare_rm_ms": ms([r.remove for r in bare]),
        "bare_stop_and_rm_ms": ms([r.stop + r.remove for r in bare]),
        "modelyard_stop_ms": ms([r.stop for r in sup]),
    }
    for side, runs in (("bare", bare), ("modelyard", sup)):
        split = [p for p in (r.phases() for r in runs) if p is not None]
        if split:
            results[f"{side}_phases_ms"] = {
                name: ms([p[k] for p in split])
                for k, name in enumerate(("to_create", "create_to_start", "start_to_ready"))
            }
    return results


def report(r: dict[str, object]) -> None:
    print(json.dumps(r, indent=2))
    print(
        f"\ncontainer start ({r['engine']}; median of {r['rounds']}, interleaved):\n"
        f"  bare docker run -> first 200   {r['bare_start_ms']:>8} ms\n"
        f"  modelyard ensure -> ready      {r['modelyard_start_ms']:>8} ms\n"
        f"  supervisor overhead            {r['overhead_of_medians_ms']:>+8} ms "
        f"(paired median {r['overhead_paired_median_ms']:+} ms, ratio {r['ratio']}x, "
        f"fixed cost {r['fixed_cost_ms']} ms)\n"
        f"  stop: bare stop + rm {r['bare_stop_and_rm_ms']} ms "
        f"({r['bare_stop_ms']} + {r['bare_rm_ms']}), modelyard stop {r['modelyard_stop_ms']} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="counted rounds (one per side)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
    with tempfile.TemporaryDirectory(prefix="modelyard-containers-") as tmp_:
        tmp = Path(tmp_)
        (tmp / "engine").mkdir()
        try:
            with an_engine(tmp / "engine") as engine:
                results = measure(engine, tmp, args.rounds)
        except Skip as exc:
            print(f"container starts: skipped: no Docker engine to measure on: {exc}")
            return
        except KeyboardInterrupt:
            print("container starts: interrupted; containers, supervisor and engine removed")
            raise SystemExit(130) from None
    report(results)


if __name__ == "__main__":
    main()
