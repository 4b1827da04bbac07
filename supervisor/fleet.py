"""The servers one supervisor manages, and the capacity they share.

`admit` is the only way memory gets claimed: under one lock it measures the devices, asks the
pure policy (capacity.plan) where the server fits and what must make room, performs those
evictions (warm: sleep, cold: stop), and claims the placement by moving the server into
STARTING or WAKING before the lock is released. When nothing can be freed it waits, with the
queue's deadline, for something to change. Loads of different servers then proceed in
parallel; only the decisions are serialised.

When a load needs an eviction, *whether now* is the scheduler's call (scheduling.next_load,
`supervisor.scheduler.policy: modelyard`): it weighs who waits for what (the waiting room,
filled by `ensure`) against the switch costs learned from every observed transition
(costs.py, kept in the state directory). An evictee that still has requests in flight drains
first: new requests for it wait, the ones it holds finish, up to `drain_timeout`. With
`policy: arrival`, a load evicts idle servers at once and never a busy one (what other
systems do, kept for comparison).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import math
import time
from typing import Any

from modelyard_config import Config
from modelyard_config.placeholders import fill
from modelyard_config.supervisor import SupervisorSettings
from supervisor import budgets, capacity, cost_store, paths, scheduling, server_views, statefile
from supervisor.capacity import Device, Eviction, NoFit, Placement, Resident, Want
from supervisor.command import LaunchFacts, LaunchSpec, render
from supervisor.costs import Costs, Kind, SwitchTimes
from supervisor.devices import DeviceReading, MemoryReader, memory_of
from supervisor.engine import Engine, EngineCallError
from supervisor.errors import CapacityError, UnknownServerError
from supervisor.launcher import Launcher
from supervisor.metrics import Metrics
from supervisor.ports import PortAllocator
from supervisor.restarts import Restarts
from supervisor.server import ManagedServer
from supervisor.server_context import FreedCheck, OnAdmit, ServerContext
from supervisor.states import HOLDS_MEMORY, State
from supervisor.waiting import WaitingRoom

log = logging.getLogger("modelyard.supervisor")

# The scheduler's names for the states in which a server holds, claims or keeps memory.
_PHASES: dict[State, scheduling.Phase] = {
    State.READY: "ready",
    State.STARTING: "starting",
    State.WAKING: "waking",
    State.SLEEPING: "sleeping",
    State.STOPPING: "stopping",
    State.ASLEEP: "asleep",
}
# A move from the first state to the second is one switch of this kind, timed from entering
# the first: what the cost model learns from.
_SWITCHES: dict[tuple[State, State], Kind] = {
    (State.STARTING, State.READY): "start",
    (State.WAKING, State.READY): "wake",
    (State.SLEEPING, State.ASLEEP): "sleep",
    (State.STOPPING, State.STOPPED): "stop",
}
# How often a waiting load looks again when no transition woke it: in-flight counts and ages
# change without one, and the value of waiting grows with every second.
_RECHECK_S = 0.5
# Waiting requests listed per server by GET /schedule (all are counted).
SHOWN = 50


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
            sleep_check=self.sleep_check,
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
        self.costs_file = self.state_dir / "costs.json"
        priors = {
            name: SwitchTimes(**spec.switch_costs.model_dump())
            for name, spec in config.servers.items()
        }
        self.costs: dict[str, Costs] = cost_store.load(self.costs_file, priors)
        for name, costs in self.costs.items():
            self._export_costs(name, costs)
        self.room = WaitingRoom()
        self._since: dict[str, float] = {}  # time.monotonic() each server entered its state
        self._admitting: dict[str, float] = {}  # loads waiting in admit, since when
        self._draining: dict[str, float] = {}  # evictees finishing their work, since when
        self._drain_for: dict[str, str] = {}  # evictee -> the server it makes room for
        self._drained: dict[str, asyncio.Event] = {}
        self.decision = "nothing waits for a load"  # the scheduler's last word, for operators

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
        self._admitting[server.name] = time.monotonic()
        try:
            while True:
                async with self._lock:
                    outcome = await self._try_admit(server, on_admit)
                if outcome is None:
                    return
                remaining = deadline - loop.time()
                if outcome.never or remaining <= 0:
                    retry = None if outcome.never else self._retry_after(server.name)
                    raise CapacityError(server.name, outcome.reason, retry)
                if not waiting:
                    waiting = True
                    self.queued += 1
                    self.metrics.queue.set(self.queued)
                self._wakeup.clear()
                # Wake on any lifecycle change; re-measure often, since in-flight counts, ages
                # and live memory change without one.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=min(_RECHECK_S, remaining))
        finally:
            self._admitting.pop(server.name, None)
            self._end_drains(server.name)
            if waiting:
                self.queued -= 1
                self.metrics.queue.set(self.queued)

    async def _try_admit(self, server: ManagedServer, on_admit: OnAdmit) -> NoFit | None:
        for _ in range(len(self._servers) + 1):  # each round evicts at least one server
            table = self.device_table()
            if server.state is State.ASLEEP:  # a sleeping process wakes where it lives
                table = [d for d in table if d.key in server.devices]
            total = table[0].total if table else 0
            want = self._want(server, total)
            residents = self.residents(exclude=server.name)
            result = capacity.plan(table, residents, want)
            if isinstance(result, Placement) and not result.evictions:
                on_admit(result.devices)
                return None
            if self.config.supervisor.scheduler.policy == "modelyard":
                # the scheduler has re-read the busy evictees and drained them (or given up)
                scheduled = await self._scheduled(server.name, table, residents, want)
                if isinstance(scheduled, NoFit):
                    return scheduled
                result = scheduled
            elif isinstance(result, NoFit):
                return result
            elif await self._refresh_load([e.name for e in result.evictions]):
                continue  # a victim turned out busy: plan again with fresh numbers
            for eviction in result.evictions:
                await self.evict(eviction)
        return NoFit(reason="capacity kept changing while planning", never=False)

    async def _scheduled(
        self, name: str, table: list[Device], residents: list[Resident], want: Want
    ) -> Placement | NoFit:
        """The evictions for `name` if the scheduler says now, once the busy ones have drained;
        otherwise why it waits."""
        relaxed = capacity.plan(table, _work_allowed(residents), want)
        if isinstance(relaxed, NoFit):
            return relaxed
        # Fresh in-flight counts for every evictee before deciding: the monitor's reading is up
        # to a health interval old, and a server that just became ready has its waiters'
        # requests in flight while the last reading still says idle (the residency window
        # must see them).
        await self._refresh_load([e.name for e in relaxed.evictions])
        now = time.monotonic()
        choice = scheduling.next_load(self.schedule_view(now), now, self._settings())
        self.decision = choice.reason
        if choice.load != name:
            self._end_drains(name)  # a drain begun for it is called off: the evictee serves
            return NoFit(reason=f"scheduler: {choice.reason}", never=False)
        # Requests that waited for an evictee which is now ready are about to be sent to it:
        # let them go first (they leave the room within a loop turn or two).
        serving = [
            e.name
            for e in relaxed.evictions
            if e.name not in self._draining
            and self.room.count(e.name)
            and self._servers[e.name].state is State.READY
        ]
        if serving:
            return NoFit(reason=f"{', '.join(serving)} first serves who waited", never=False)
        busy = [e.name for e in relaxed.evictions if self._servers[e.name].usage.in_flight]
        limit = self.config.supervisor.scheduler.drain_timeout
        for victim in busy:
            started = self._draining.setdefault(victim, now)
            self._drain_for.setdefault(victim, name)
            self._drained.setdefault(victim, asyncio.Event())
            if started == now:
                log.info("draining %s for %s: %s", victim, name, choice.reason)
                self.metrics.drains.labels(victim).inc()
        late = [v for v in busy if now - self._draining[v] >= limit]
        if busy and not late:
            return NoFit(reason=f"draining {', '.join(busy)} for {name}", never=False)
        if late:
            log.warning("%s still busy after drain_timeout %.0f s: evicting anyway", late, limit)
        return Placement(relaxed.devices, relaxed.evictions)

    def _end_drains(self, name: str) -> None:
        """Drains begun for a load that is over (loaded, failed or given up): their servers
        take requests again."""
        for victim, owner in list(self._drain_for.items()):
            if owner == name:
                self._finish_drain(victim)

    def _finish_drain(self, victim: str) -> None:
        self._draining.pop(victim, None)
        self._drain_for.pop(victim, None)
        event = self._drained.pop(victim, None)
        if event is not None:
            event.set()

    # -- fit by variant -----------------------------------------------------------------------

    def _variant_for(self, name: str) -> str | None:
        """The variant to serve `name`'s requests now, or None to wait for `name` itself.

        Only while `name` is neither ready nor loading and cannot be placed without evicting a
        busy server: then the first of its variants that is ready, or loading, or fits without
        evicting a busy server. As soon as `name` fits again (the variant idle, or room freed),
        this says None and `name` is loaded: the variant goes back when its idle TTL or an
        eviction says so.
        """
        variants = self.config.servers[name].variants
        if not variants or self._servers[name].state in (State.READY, State.STARTING, State.WAKING):
            return None
        table = self.device_table()
        if self._fits_idle(name, table):
            return None
        for v in variants:
            if self._servers[v].state is State.READY and v not in self._draining:
                return v
        for v in variants:
            if self._servers[v].state in (State.STARTING, State.WAKING) or self._fits_idle(
                v, table
            ):
                return v
        return None

    def _fits_idle(self, name: str, table: list[Device]) -> bool:
        """Whether `name` can be placed now, evicting only idle servers."""
        server = self._servers[name]
        if server.state is State.ASLEEP:
            table = [d for d in table if d.key in server.devices]
        total = table[0].total if table else 0
        result = capacity.plan(table, self.residents(exclude=name), self._want(server, total))
        return isinstance(result, Placement)

    # -- the scheduler's view ----------------------------------------------------------------

    def _settings(self) -> scheduling.Settings:
        own = self.config.supervisor.scheduler
        return scheduling.Settings(own.min_residency, own.age_weight, own.deadline_slack)

    def schedule_view(self, now: float) -> scheduling.Fleet:
        """The fleet as the scheduler sees it: one measurement of the devices, no I/O beyond."""
        table = self.device_table()
        residents = []
        for s in self._servers.values():
            phase = _PHASES.get(s.state)
            if phase is None:
                continue
            joined = self.room.count(s.name) if phase in ("ready", "starting", "waking") else 0
            residents.append(
                scheduling.Resident(
                    name=s.name,
                    phase=phase,
                    since=self._since.get(s.name, now),
                    in_flight=s.usage.in_flight,
                    queued=joined,
                    protected=s.usage.pinned or s.tier == "hot",
                    last_used=s.usage.last_used,
                )
            )
        waiting = []
        for name in sorted(set(self.room.servers()) | set(self._admitting)):
            requests = self.room.requests(name)
            if not requests and name in self._admitting:  # a load nobody waits on by ticket
                requests = (scheduling.Request(self._admitting[name]),)
            waiting.append(scheduling.Waiting(name, requests))
        service = self.config.supervisor.scheduler.service_s
        profiles = {
            name: scheduling.Profile(costs.estimates(), service_s=service)
            for name, costs in self.costs.items()
        }
        return scheduling.Fleet(
            tuple(residents), tuple(waiting), profiles, lambda name: self._room_for(name, table)
        )

    def _room_for(self, name: str, table: list[Device]) -> tuple[Eviction, ...] | None:
        """Who would have to go for `name`, busy servers included (the scheduler decides
        whether their work lets them); None when nothing that may go would make room."""
        server = self._servers[name]
        if server.state in HOLDS_MEMORY:
            return ()
        if server.state is State.ASLEEP:
            table = [d for d in table if d.key in server.devices]
        total = table[0].total if table else 0
        residents = _work_allowed(self.residents(exclude=name))
        result = capacity.plan(table, residents, self._want(server, total))
        return None if isinstance(result, NoFit) else result.evictions

    def predict(self, name: str) -> scheduling.Prediction:
        now = time.monotonic()
        return scheduling.predicted_wait(self.schedule_view(now), name, now, self._settings())

    def waits(self, names: list[str]) -> list[dict[str, Any]]:
        """Each server's predicted wait for a request arriving now (the admin API's /waits)."""
        for name in names:
            self.get(name)  # UnknownServerError before any work
        now = time.monotonic()
        view = self.schedule_view(now)
        result = []
        for name in names:
            p = scheduling.predicted_wait(view, name, now, self._settings())
            ready = self._servers[name].state is State.READY and name not in self._draining
            seconds = None if math.isinf(p.seconds) else round(p.seconds, 3)
            result.append({"server": name, "ready": ready, "seconds": seconds, "reason": p.reason})
        return result

    def _retry_after(self, name: str, prediction: scheduling.Prediction | None = None) -> float:
        """Seconds a refused caller should wait before asking again: the predicted wait, at
        least one second; 5 when nothing predicts an end (something pinned holds the room)."""
        prediction = prediction or self.predict(name)
        if math.isinf(prediction.seconds):
            return 5.0
        return float(max(1, math.ceil(prediction.seconds)))

    def schedule_report(self) -> dict[str, Any]:
        """What the scheduler weighs and what it last decided (the admin API's /schedule)."""
        now = time.monotonic()
        return {
            "policy": self.config.supervisor.scheduler.policy,
            "decision": self.decision,
            # the oldest SHOWN per server: a thousand waiting requests are a count, not a page
            "waiting": {
                name: [
                    {
                        "waited_s": round(now - r.arrival, 3),
                        "deadline_in_s": None if r.deadline is None else round(r.deadline - now, 3),
                    }
                    for r in self.room.requests(name)[:SHOWN]
                ]
                for name in self.room.servers()
            },
            "waiting_count": {name: self.room.count(name) for name in self.room.servers()},
            "loading": sorted(self._admitting),
            "draining": {
                victim: {"for": self._drain_for.get(victim), "since_s": round(now - t, 3)}
                for victim, t in self._draining.items()
            },
        }

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
        self._finish_drain(victim.name)

    # -- lifecycle callbacks ------------------------------------------------------------------

    def _changed(self, server: ManagedServer) -> None:
        before = self._last_state.get(server.name)
        if before is not server.state:
            now = time.monotonic()
            self._last_state[server.name] = server.state
            self._count(server)
            kind = _SWITCHES.get((before, server.state)) if before is not None else None
            began = self._since.get(server.name)
            if kind is not None and began is not None:
                self._observe(server.name, kind, now - began)
            self._since[server.name] = now
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

    def _observe(self, name: str, kind: Kind, seconds: float) -> None:
        costs = self.costs[name]
        costs.observe(kind, seconds)
        if kind == "start":
            self.metrics.load_seconds.labels(name).observe(seconds)
        self._export_costs(name, costs)
        try:
            cost_store.save(self.costs_file, self.costs)
        except OSError as exc:  # a full disk: the estimate lives on in memory
            log.error("could not write %s (%s): switch costs not kept", self.costs_file, exc)

    def _export_costs(self, name: str, costs: Costs) -> None:
        for kind, seconds in dataclasses.asdict(costs.estimates()).items():
            self.metrics.switch_seconds.labels(name, kind).set(seconds)

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

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        """The server once ready. While it cannot be, the caller waits in the waiting room,
        where the scheduler sees it; `max_wait` (seconds) bounds that wait: past it, a
        CapacityError whose retry_after is the predicted wait. The load goes on for whoever
        else waits (a start is single-flight)."""
        server = self.get(name)
        if server.state is State.READY and name not in self._draining:
            await server.ensure()  # returns at once; marks it used
            return self.describe(server, memory=False)
        if max_wait is not None and max_wait >= self.config.supervisor.queue_timeout:
            max_wait = None  # the queue gives up first anyway (and inf or 1e9 s mean "no limit")
        variant = self._variant_for(name)
        if variant is not None:
            log.info("%s would evict a busy server: serving its requests with %s", name, variant)
            self.metrics.variants.labels(name, variant).inc()
            return {**await self.ensure(variant, max_wait), "variant_of": name}
        arrival = time.monotonic()
        ticket = self.room.enter(name, arrival, None if max_wait is None else arrival + max_wait)
        self._waiting_changed(name)
        try:
            if max_wait is None:
                await self._ensure_after_drain(server)
            else:
                try:
                    await asyncio.wait_for(self._ensure_after_drain(server), max_wait)
                except TimeoutError:
                    prediction = self.predict(name)
                    raise CapacityError(
                        name,
                        f"not ready within the max wait of {max_wait:g} s: {prediction.reason}",
                        self._retry_after(name, prediction),
                    ) from None
        finally:
            self.room.leave(name, ticket)
            self._waiting_changed(name)
        return self.describe(server, memory=False)

    async def _ensure_after_drain(self, server: ManagedServer) -> None:
        """A draining server takes no new request until it is evicted (then this starts it
        again, through the scheduler) or its drain is called off."""
        while (event := self._drained.get(server.name)) is not None:
            await event.wait()
        await server.ensure()

    def _waiting_changed(self, name: str) -> None:
        self.metrics.waiting.labels(name).set(self.room.count(name))
        self._wakeup.set()  # the scheduler weighs waiting requests: let loads look again

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
            "costs": {
                kind: {
                    "seconds": round(v["mean"] or 0.0, 3),
                    "observed": v["count"],
                    "last": None if v["last"] is None else round(float(v["last"]), 3),
                }
                for kind, v in self.costs[server.name].to_dict().items()
            },
            "waiting": self.room.count(server.name),
            "draining": server.name in self._draining,
        }

    def describe_all(self) -> list[dict[str, Any]]:
        """Every server, with its predicted wait for a request arriving now."""
        described = [self.describe(s) for s in self._servers.values()]
        for entry, wait in zip(described, self.waits(list(self._servers)), strict=True):
            entry["predicted_wait"] = {k: wait[k] for k in ("seconds", "reason")}
        return described

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

    # -- sleep levels: did a sleep free the memory? -------------------------------------------

    def sleep_check(self, server: ManagedServer) -> FreedCheck:
        """Measures `server` just before a sleep; the check it returns, made once the engine
        confirmed the sleep, measures again and passes when at least supervisor.sleep.
        freed_share of its budget was freed. A failure is logged with the figures and counted
        (modelyard_demotions_total, to="stop"); the server then stops itself: asleep, its
        budget would be planned as free while the memory is still held.

        Measured per process where NVML lists the server's pids (then another server loading
        on the same GPU meanwhile cannot hide what this one freed), else as the devices' used
        memory. Nothing to compare, so it passes, on host memory (warm servers are stopped
        there, not slept), without a budget, or when nothing was measured before (a simulated
        GPU reads 0 used)."""
        devices, pids = server.devices, server.members()
        if self.reader.kind != "gpu" or not devices:
            return lambda: True
        before = self.reader.read()
        per_process = memory_of(before, pids) > 0

        def held(readings: list[DeviceReading]) -> int:
            if per_process:
                return memory_of(readings, pids)
            return sum(d.used for d in readings if d.key in devices)

        total = next((d.total for d in before if d.key == devices[0]), 0)
        budget = self.budget(server.name, total) * len(devices)
        held_before = held(before)
        if not budget or not held_before:
            return lambda: True

        def check() -> bool:
            held_after = held(self.reader.read())
            wanted = self.config.supervisor.sleep.freed_share * budget
            if held_before - held_after >= wanted:
                return True
            gib = 2**30
            log.warning(
                "%s: its sleep freed %.2f GiB of a %.2f GiB budget (%s: %.2f GiB before, "
                "%.2f GiB after); freed_share wants %.2f GiB: treating it as awake and "
                "stopping it",
                server.name,
                (held_before - held_after) / gib,
                budget / gib,
                "its processes, per NVML" if per_process else f"used on {', '.join(devices)}",
                held_before / gib,
                held_after / gib,
                wanted / gib,
            )
            self.metrics.demotions.labels(server.name, "stop").inc()
            return False

        return check


def _work_allowed(residents: list[Resident]) -> list[Resident]:
    """The residents as a capacity plan sees them when work in flight does not protect them:
    the scheduler (residency window, drain) decides when a busy server may go."""
    return [dataclasses.replace(r, in_flight=0) for r in residents]
