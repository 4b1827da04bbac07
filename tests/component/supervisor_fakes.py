"""Fakes of the supervisor's three seams (launcher, engine, memory reader) and a fleet built on
them, for the component tier.

Why fakes: this tier tests the orchestration (admission, eviction, the queue, the lifecycle,
restarts, expiry) without the 20-60 s that starting a real vLLM costs, and with failures on cue
that real processes show only by luck of timing (an exit in the middle of a start, a refused
sleep). The real processes, the pidfds and the HTTP calls are covered in tests/integration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard_config import parse_config
from supervisor import server_logs
from supervisor.command import LaunchSpec
from supervisor.devices import DeviceReading, Kind
from supervisor.engine import EngineCallError, Load
from supervisor.fleet import Fleet
from supervisor.metrics import Metrics
from supervisor.statefile import Record

GiB = 2**30


class FakeHandle:
    """A server that runs until the test ends it (exit()) or the supervisor stops it.

    A fake because the component tests need an exit at an exact moment (while starting, while
    ready) and a stop that costs nothing; process groups are tested in tests/integration.
    """

    def __init__(self, pid: int, spec: LaunchSpec, log_path: Path) -> None:
        self.pid = pid
        self.spec = spec
        self.log_path = log_path
        self.created_at = time.monotonic()
        self.stops = 0
        self.rss = 0
        self.container_id: str | None = None
        # what it forked, alive after it exits on its own until a stop (vLLM's engine core)
        self.leftovers: list[int] = []
        self.stop_gate: asyncio.Event | None = None
        self._code: int | None = None
        self._exited = asyncio.Event()

    @property
    def exited(self) -> bool:
        return self._exited.is_set()

    @property
    def returncode(self) -> int | None:
        return self._code

    def exit(self, code: int, output: str = "") -> None:
        """The server dies on its own, having printed `output` to its log."""
        if output:
            with self.log_path.open("a") as log:
                log.write(output + "\n")
        self._code = code
        self._exited.set()

    async def wait(self) -> int | None:
        await self._exited.wait()
        return self._code

    async def stop(self, grace: float) -> int | None:
        self.stops += 1
        if not self.exited:
            self.exit(-15)
        if self.stop_gate is not None:  # what it forked is slow to go (stop_grace)
            await self.stop_gate.wait()
        self.leftovers = []
        return self._code

    def members(self) -> list[int]:
        return list(self.leftovers) if self.exited else [self.pid]

    def rss_bytes(self) -> int:
        return 0 if self.exited else self.rss


class FakeLauncher:
    """Starts FakeHandles. With `gate` set, start() blocks until the test releases it, so a
    test can cancel a start midway; like every launcher, it has created nothing before that
    point, so a cancelled start leaves nothing behind (the seam's rule, launcher.py)."""

    def __init__(self) -> None:
        self.handles: list[FakeHandle] = []
        self.gate: asyncio.Event | None = None
        self.at_gate = asyncio.Event()
        self.survivors: dict[int, FakeHandle] = {}  # pid -> what adopt() finds alive
        self._next_pid = 1000

    async def start(self, spec: LaunchSpec, log_path: Path) -> FakeHandle:
        if self.gate is not None:
            self.at_gate.set()
            await self.gate.wait()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            log.write(server_logs.banner(spec))
        self._next_pid += 1
        handle = FakeHandle(self._next_pid, spec, log_path)
        self.handles.append(handle)
        return handle

    async def adopt(self, record: Record, log_path: Path) -> FakeHandle | None:
        return self.survivors.get(record.pid)

    async def sweep(self, keep: Sequence[Any]) -> list[str]:
        """What a container launcher's sweep finds is tested against a real engine
        (tests/integration/test_containers.py); processes have nothing to sweep."""
        return []

    async def close(self) -> None:
        pass

    def survivor(self, pid: int, spec: LaunchSpec, log_path: Path) -> FakeHandle:
        """A server a previous supervisor left running."""
        handle = FakeHandle(pid, spec, log_path)
        self.survivors[pid] = handle
        return handle

    def running(self) -> list[FakeHandle]:
        return [h for h in self.handles if not h.exited]


class FakeEngine:
    """Answers for every server by URL: healthy unless told otherwise, sleep and wake that
    succeed or refuse, load readings the test sets. A fake because real vLLM cannot be made to
    refuse a sleep or to stop answering on cue (tests/integration drives a real one)."""

    def __init__(self) -> None:
        self.answering = True  # False: no server answers its health path (a slow start)
        self.silent: set[str] = set()  # base URLs that stopped answering (a wedged server)
        self.refuse_sleep = False
        self.refuse_wake = False
        self.loads: dict[str, Load] = {}  # base URL -> reading; absent: no metrics
        self.calls: list[tuple[str, str]] = []  # (call, base URL) for sleep and wake
        self.levels: list[tuple[str, int]] = []  # (call, sleep level) for sleep and wake
        # Called while a sleep is under way (base URL, level): what NVML would show change.
        self.on_sleep: Callable[[str, int], None] | None = None

    async def healthy(self, url: str) -> bool:
        return self.answering and not any(url.startswith(base) for base in self.silent)

    async def sleep(self, base_url: str, level: int = 1) -> None:
        self.calls.append(("sleep", base_url))
        self.levels.append(("sleep", level))
        if self.refuse_sleep:
            raise EngineCallError(f"{base_url} refused to sleep")
        if self.on_sleep is not None:
            self.on_sleep(base_url, level)

    async def wake(self, base_url: str, level: int = 1) -> None:
        self.calls.append(("wake", base_url))
        self.levels.append(("wake", level))
        if self.refuse_wake:
            raise EngineCallError(f"{base_url} refused to wake")

    async def load(self, base_url: str) -> Load | None:
        return self.loads.get(base_url)


class FakeGpus:
    """GPUs whose measured `used` bytes the test sets: memory held by something that is not
    ours (another program, a CUDA context), which NVML would report on a real box."""

    kind: Kind = "gpu"

    def __init__(self, *sizes_gib: float) -> None:
        self.totals = [int(gib * GiB) for gib in sizes_gib]
        self.used = [0 for _ in sizes_gib]
        # per device, pid -> bytes: NVML's per-process readings (CUDA context included)
        self.processes: list[dict[int, int]] = [{} for _ in sizes_gib]

    def read(self) -> list[DeviceReading]:
        return [
            DeviceReading(f"gpu{i}", "gpu", i, "fake GPU", total, used, total - used, dict(procs))
            for i, (total, used, procs) in enumerate(
                zip(self.totals, self.used, self.processes, strict=True)
            )
        ]

    def close(self) -> None:
        pass


@dataclass
class Rig:
    fleet: Fleet
    launcher: FakeLauncher
    engine: FakeEngine
    gpus: FakeGpus

    def count(self, metric: str, **labels: str) -> float:
        value = self.fleet.metrics.registry.get_sample_value(metric, labels)
        return value or 0.0


@asynccontextmanager
async def rig(
    tmp_path: Path, servers: dict[str, dict[str, Any]], gpus: FakeGpus, **supervisor: Any
) -> AsyncIterator[Rig]:
    """A fleet on the fakes, every server stopped at the end. Health settings are fast, so
    restarts happen in milliseconds; `supervisor` overrides any setting.

    The scheduler runs `policy: arrival` here unless a test asks otherwise: most tests of this
    tier pin which server capacity evicts and when the queue gives up, at once; when a switch is
    worth making is the scheduler's and is tested with `policy: modelyard`
    (test_scheduler_fleet.py)."""
    health = {"failures": 2, "max_restarts": 2, "backoff_initial": 0.01, "backoff_max": 0.02}
    settings = {
        "state_dir": str(tmp_path / "state"),
        "port_range": [47100, 47199],
        "queue_timeout": 5,
        "health": health,
        "defaults": {"command": ["serve", "{model}", "--port", "{port}"], "startup_timeout": 5},
        "scheduler": {"policy": "arrival"},
        **supervisor,
    }
    config = parse_config(
        {"supervisor": settings, "servers": servers, "routes": {"agent": list(servers)}}
    )
    launcher, engine = FakeLauncher(), FakeEngine()
    fleet = Fleet(config, gpus, Metrics(), engine, launcher)
    try:
        yield Rig(fleet, launcher, engine, gpus)
    finally:
        await fleet.stop_all()


def server(gib: float, tier: str = "cold", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "gpu_memory_gb": gib, "tier": tier, **extra}


async def until(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Poll `condition` until true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)  # the poll's period, not synchronisation
