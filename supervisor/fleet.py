"""The servers one supervisor manages, and the capacity they share.

`admit` is the only way memory gets claimed: under one lock it measures the devices, asks the
pure policy (capacity.plan) where the server fits and what must make room, performs those
evictions (warm: sleep, cold: stop), and claims the placement by moving the server into
STARTING or WAKING before the lock is released. When nothing can be freed it waits, with the
queue's deadline, for something to change. Loads of different servers then proceed in
parallel; only the decisions are serialised.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

from modelyard_config import Config
from modelyard_config.placeholders import fill
from modelyard_config.supervisor import SupervisorSettings
from supervisor import budgets, capacity, paths, server_views, statefile
from supervisor.capacity import Device, Eviction, NoFit, Resident, Want
from supervisor.command import LaunchFacts, LaunchSpec, render
from supervisor.devices import DeviceReading, MemoryReader, memory_of
from supervisor.engine import Engine, EngineCallError
from supervisor.errors import CapacityError, UnknownServerError
from supervisor.launcher import Launcher
from supervisor.metrics import Metrics
from supervisor.ports import PortAllocator
from supervisor.restarts import Restarts
from supervisor.server import ManagedServer
from supervisor.server_context import OnAdmit, ServerContext
from supervisor.states import HOLDS_MEMORY, State

log = logging.getLogger("modelyard.supervisor")


def instance_of(settings: SupervisorSettings) -> str:
    """The name this supervisor's containers carry in their labels: supervisor.docker.instance,
    else a hash of its state directory's real path, so a restart on the same directory finds
    its own containers and another directory's supervisor does not."""
    if settings.docker.instance:
        return settings.docker.instance
    state_dir = paths.state_dir(settings.state_dir)
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:10]


class Fleet:
    """`launcher` and `engine`: the seams to processes and to the servers' own APIs."""

    def __init__(
        self,
        config: Config,
        reader: MemoryReader,
        metrics: Metrics,
        engine: Engine,
        launcher: Launcher,
    ) -> None:
        self.config = config
        self.engine = engine
        self.launcher = launcher
        self.reader = reader
        self.metrics = metrics
        settings = config.supervisor
        self.state_dir = paths.state_dir(settings.state_dir)
        self.state_file = self.state_dir / "servers.json"
        # Containers carry it in their labels: one state directory, one instance.
        self.instance = instance_of(settings)
        self._engine_python = str(paths.engine_python(settings.engine_python))
        self._models_dir = str(paths.models_dir(settings.models_dir))
        self.ports = PortAllocator("127.0.0.1", *settings.port_range)
        ctx = ServerContext(
            render=self.render,
            ports=self.ports,
            launcher=launcher,
            engine=engine,
            log_dir=self.state_dir / "logs",
            admit=self.admit,
            changed=self._changed,
            exited=self._exited,
        )
        self._lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self.queued = 0
        self._devices: list[DeviceReading] = reader.read()
        self.restarts = Restarts(config.supervisor.health, metrics)
        self._last_state: dict[str, State] = {}
        self._shut_down = False
        self._servers = {
            name: ManagedServer(name, spec.tier, ctx) for name, spec in config.servers.items()
        }

    # -- sizes ------------------------------------------------------------------------------

    def budget(self, name: str, total: int) -> int:
        return budgets.budget_bytes(self.config, name, total)

    def ceiling(self, total: int) -> int:
        return budgets.ceiling(self.config.supervisor, total)

    def _reading(self, key: str) -> DeviceReading | None:
        return next((d for d in self._devices if d.key == key), None)

    def render(self, name: str, port: int, devices: tuple[str, ...]) -> LaunchSpec:
        readings = [r for r in (self._reading(k) for k in devices) if r is not None]
        total = readings[0].total if readings else 0
        budget = self.budget(name, total) if total else 0
        cuda = tuple(r.index for r in readings if r.index is not None)
        facts = LaunchFacts(
            host="127.0.0.1",
            port=port,
            engine_python=self._engine_python,
            models_dir=self._models_dir,
            gpu_memory_utilization=min(budget / total, 0.95) if budget else 0.9,
            cuda_devices=cuda if self.reader.kind == "gpu" else None,
            instance=self.instance,
        )
        return render(self.config, name, facts)

    # -- the capacity decision ----------------------------------------------------------------

    def device_table(self) -> list[Device]:
        self._devices = self.reader.read()
        ours = 0
        if self.reader.kind == "host":
            # Host RAM is shared with everything on the machine; count what our servers use,
            # so another program's RAM neither blocks nor is evicted for (available is checked
            # separately by the OS: a start that cannot get memory fails and says so).
            ours = sum(s.rss_bytes() for s in self._servers.values())
        table = [
            Device(
                key=d.key,
                total=d.total,
                used=d.used if d.kind == "gpu" else ours,
                ceiling=self.ceiling(d.total),
            )
            for d in self._devices
        ]
        residents = self.residents()
        for d in table:
            self.metrics.total.labels(d.key).set(d.total)
            self.metrics.used.labels(d.key).set(d.used)
            self.metrics.planned.labels(d.key).set(capacity.planned(d.key, residents))
        return table

    def residents(self, exclude: str | None = None) -> list[Resident]:
        result = []
        for s in self._servers.values():
            if s.name == exclude or not s.devices:
                continue
            total = next((d.total for d in self._devices if d.key == s.devices[0]), 0)
            result.append(
                Resident(
                    name=s.name,
                    devices=s.devices,
                    budget=self.budget(s.name, total),
                    tier=s.tier,
                    pinned=s.usage.pinned,
                    in_flight=s.usage.in_flight,
                    last_used=s.usage.last_used,
                    awake=s.state in HOLDS_MEMORY,
                    busy=s.state not in (State.READY, State.ASLEEP),
                )
            )
        return result

    def _want(self, server: ManagedServer, total: int) -> Want:
        spec = self.config.servers[server.name]
        return Want(
            server.name, self.budget(server.name, total), spec.tensor_parallel_size, server.tier
        )

    async def admit(self, server: ManagedServer, on_admit: OnAdmit) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.supervisor.queue_timeout
        waiting = False
        try:
            while True:
                async with self._lock:
                    outcome = await self._try_admit(server, on_admit)
                if outcome is None:
                    return
                remaining = deadline - loop.time()
                if outcome.never or remaining <= 0:
                    raise CapacityError(server.name, outcome.reason, None if outcome.never else 5.0)
                if not waiting:
                    waiting = True
                    self.queued += 1
                    self.metrics.queue.set(self.queued)
                self._wakeup.clear()
                # Wake on any lifecycle change; re-measure at least every second, since
                # in-flight counts and live memory change without one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=min(1.0, remaining))
        finally:
            if waiting:
                self.queued -= 1
                self.metrics.queue.set(self.queued)

    async def _try_admit(self, server: ManagedServer, on_admit: OnAdmit) -> NoFit | None:
        for _ in range(len(self._servers) + 1):  # each round evicts at least one server
            table = self.device_table()
            if server.state is State.ASLEEP:  # a sleeping process wakes where it lives
                table = [d for d in table if d.key in server.devices]
            total = table[0].total if table else 0
            result = capacity.plan(
                table, self.residents(exclude=server.name), self._want(server, total)
            )
            if isinstance(result, NoFit):
                return result
            if not result.evictions:
                on_admit(result.devices)
                return None
            if await self._refresh_load([e.name for e in result.evictions]):
                continue  # a victim turned out busy: plan again with fresh numbers
            for eviction in result.evictions:
                await self.evict(eviction)
        return NoFit(reason="capacity kept changing while planning", never=False)

    async def _refresh_load(self, names: list[str]) -> bool:
        """Re-read victims' in-flight counts; True if any is busy after all."""
        busy = False
        for name in names:
            server = self._servers[name]
            if server.base_url and (load := await self.engine.load(server.base_url)):
                server.usage.observe_in_flight(load.in_flight)
                busy = busy or load.in_flight > 0
        return busy

    async def evict(self, eviction: Eviction) -> None:
        victim = self._servers[eviction.name]
        log.info("evicting %s (%s)", victim.name, eviction.action)
        action = eviction.action
        if action == "sleep":
            try:
                await victim.sleep()
            except EngineCallError as exc:
                log.warning("%s refused to sleep (%s): stopping it instead", victim.name, exc)
                action = "stop"
        if action == "stop":
            await victim.stop()
        self.metrics.evictions.labels(victim.name, action).inc()

    # -- lifecycle callbacks ------------------------------------------------------------------

    def _changed(self, server: ManagedServer) -> None:
        if self._last_state.get(server.name) is not server.state:
            self._last_state[server.name] = server.state
            self._count(server)
        self._wakeup.set()
        self.save_state()

    def _count(self, server: ManagedServer) -> None:
        self.metrics.set_state(server.name, server.state)
        counters = {
            State.STARTING: self.metrics.loads,
            State.ASLEEP: self.metrics.sleeps,
            State.WAKING: self.metrics.wakes,
        }
        if server.state in counters:
            counters[server.state].labels(server.name).inc()

    def _exited(self, server: ManagedServer) -> None:
        self.restarts.schedule(server, "the process exited")

    def save_state(self) -> None:
        """Record what runs, for the next supervisor. A failed write (a full disk) is logged and
        swallowed: it is called inside transitions, and a server must still reach `stopped`;
        the next transition writes the whole file again."""
        records = [r for s in self._servers.values() if (r := server_views.record(s)) is not None]
        try:
            statefile.save(self.state_file, records)
        except OSError as exc:
            log.error(
                "could not write the state file %s (%s): a supervisor restarted now would not "
                "adopt what changed since the last write",
                self.state_file,
                exc,
            )

    # -- operations ---------------------------------------------------------------------------

    def get(self, name: str) -> ManagedServer:
        try:
            return self._servers[name]
        except KeyError:
            raise UnknownServerError(name) from None

    def servers(self) -> list[ManagedServer]:
        return list(self._servers.values())

    async def ensure(self, name: str) -> dict[str, Any]:
        server = self.get(name)
        await server.ensure()
        return self.describe(server, memory=False)

    async def stop(self, name: str) -> dict[str, Any]:
        server = self.get(name)
        self.restarts.cancel(name)
        await server.stop()
        return self.describe(server)

    async def stop_all(self) -> None:
        self.restarts.cancel_all()
        await asyncio.gather(*(s.stop() for s in self._servers.values()))

    async def shutdown(self) -> None:
        """What the supervisor's exit does to its servers; safe to call twice.

        By default every server is stopped. With `supervisor.keep_servers`, ready and asleep
        servers are left running and recorded, for the next supervisor on this state directory
        to adopt instead of loading them again; one caught mid-transition (starting, waking,
        failed) is stopped, since no successor could finish what this one began.
        """
        if self._shut_down:
            return
        self.restarts.cancel_all()
        if not self.config.supervisor.keep_servers:
            await self.stop_all()
        else:
            kept = [s for s in self._servers.values() if s.state in (State.READY, State.ASLEEP)]
            await asyncio.gather(*(s.stop() for s in self._servers.values() if s not in kept))
            self.save_state()
            if kept:
                log.info("leaving %s running for the next supervisor", [s.name for s in kept])
        self._shut_down = True

    def describe(self, server: ManagedServer, memory: bool = True) -> dict[str, Any]:
        """`memory`: measure it (RSS from the process table, GPU memory from a fresh NVML
        reading): milliseconds, so not on ensure()'s path."""
        spec = self.config.servers[server.name]
        if memory and self.reader.kind == "gpu":
            self._devices = self.reader.read()
        placed = [d.total for d in self._devices if d.key in server.devices]
        total = placed[0] if placed else (self._devices[0].total if self._devices else 0)
        return {
            **server_views.snapshot(server, memory),
            # NVML's per-process readings summed over its pids (a container's as the host
            # sees them); None where nothing is measured per process (host memory, simulation).
            "gpu_memory_bytes": (
                memory_of(self._devices, server.members())
                if memory and self.reader.kind == "gpu"
                else None
            ),
            "model": fill(spec.model, {"models_dir": self._models_dir}),
            "served_name": self.config.served_name(server.name),
            "capabilities": list(spec.capabilities),
            "budget_bytes": self.budget(server.name, total) if total else None,
        }

    def describe_all(self) -> list[dict[str, Any]]:
        return [self.describe(s) for s in self._servers.values()]

    def devices_report(self) -> dict[str, Any]:
        table = self.device_table()
        residents = self.residents()
        return {
            "kind": self.reader.kind,
            "limit": self.config.supervisor.gpu_memory_limit,
            "devices": [
                {
                    "key": d.key,
                    "name": r.name,
                    "total": d.total,
                    "used": d.used,
                    "live_used": r.used,
                    "free": r.free,
                    "ceiling": d.ceiling,
                    "planned": capacity.planned(d.key, residents),
                    "servers": [x.name for x in residents if d.key in x.devices and x.awake],
                }
                for d, r in zip(table, self._devices, strict=True)
            ],
        }
