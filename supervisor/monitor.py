"""The supervisor's periodic work: health probes, load readings, idle expiry, log rotation.

Exits are noticed at once by the launcher's handles (pidfds); this loop catches what an exit
does not show: a server alive but no longer answering (N failed probes in a row: it is killed
and restarted with backoff, up to M times), how busy each server is (the engine's load),
which idle servers have outlived their TTL (warm: sleep, cold: stop; hot: never), and which
sleepers go deeper as they stay idle or as host RAM runs short (sleep_levels.py: level 2,
then stopped). It also rotates each server's log once it passes supervisor.log_max_bytes
(server_logs.rotate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from supervisor import capacity, server_logs, sleep_levels
from supervisor.budgets import GiB
from supervisor.capacity import Device, Placement, Want
from supervisor.engine import EngineCallError
from supervisor.errors import SupervisorError
from supervisor.fleet import Fleet
from supervisor.server import ManagedServer
from supervisor.states import State

log = logging.getLogger("modelyard.supervisor")

# A server that has served this long since its last (re)start has recovered: its restart
# count, and so its backoff, starts again from zero.
STABLE_AFTER_S = 60.0


class Monitor:
    def __init__(self, fleet: Fleet, stable_after: float = STABLE_AFTER_S) -> None:
        self.fleet = fleet
        self._stable_after = stable_after
        self._failures: dict[str, int] = {}
        self._waiting_for_room: set[str] = set()  # told once that it waits to go to level 2

    async def run(self) -> None:
        interval = self.fleet.config.supervisor.health.interval
        while True:
            await asyncio.sleep(interval)  # the loop's period, not synchronisation
            try:
                await self.tick()
            except Exception:  # the loop must outlive any one bad round
                log.exception("monitor round failed")

    async def tick(self) -> None:
        ready = [s for s in self.fleet.servers() if s.state is State.READY]
        await asyncio.gather(*(self._check(s) for s in ready))
        await self._expire()
        await self._demote()
        await asyncio.to_thread(self._rotate_logs)  # copying up to log_max_bytes: off the loop

    def _rotate_logs(self) -> None:
        settings = self.fleet.config.supervisor
        for server in self.fleet.servers():
            try:
                if server_logs.rotate(
                    server.log_path, settings.log_max_bytes, settings.log_backups
                ):
                    log.info("%s: log rotated past %d bytes", server.name, settings.log_max_bytes)
            except OSError as exc:  # a full disk must not stop health checks
                log.warning("%s: could not rotate %s: %s", server.name, server.log_path, exc)

    async def _check(self, server: ManagedServer) -> None:
        spec, base_url = server.spec, server.base_url
        if spec is None or base_url is None:
            return
        engine = self.fleet.engine
        if await engine.healthy(spec.health_url):
            self._failures[server.name] = 0
            server.observe_healthy(self._stable_after)
            load = await engine.load(base_url)
            if load is not None:
                server.usage.observe_load(load)
            return
        count = self._failures.get(server.name, 0) + 1
        self._failures[server.name] = count
        limit = self.fleet.config.supervisor.health.failures
        log.warning("%s: health check failed (%d/%d)", server.name, count, limit)
        if count >= limit and server.state is State.READY:
            self._failures[server.name] = 0
            await server.fail(f"unhealthy: {count} health checks failed in a row")
            self.fleet.restarts.schedule(server, "it stopped answering its health checks")

    async def _expire(self) -> None:
        fleet = self.fleet
        ttl = {name: fleet.config.idle_ttl(name) for name in fleet.config.servers}
        now = time.monotonic()
        for eviction in capacity.expired(fleet.residents(), now, ttl):
            server = fleet.get(eviction.name)
            level = sleep_levels.first_level(now - server.usage.last_used, self._limits())
            with contextlib.suppress(SupervisorError):
                if eviction.action == "sleep" and level == 2:
                    log.info("%s idle past its ttl and level2_after: sleep at level 2", server.name)
                    await self._sleep_deep(server)
                    continue
                log.info("%s idle past its ttl: %s", eviction.name, eviction.action)
                await fleet.evict(eviction)

    async def _sleep_deep(self, server: ManagedServer) -> None:
        """Straight to level 2, skipping a level-1 stay that would end at once (and through a
        wake); a refusal stops it, as an eviction's does."""
        if server.state is not State.READY:
            return  # an eviction earlier in this round put it to sleep already
        action = "sleep"
        try:
            await server.sleep(2)
        except EngineCallError as exc:
            log.warning("%s refused to sleep (%s): stopping it instead", server.name, exc)
            action = "stop"
            await server.stop()
        self.fleet.metrics.evictions.labels(server.name, action).inc()

    # -- sleep levels ---------------------------------------------------------------------------

    def _limits(self) -> sleep_levels.Limits:
        settings = self.fleet.config.supervisor.sleep
        budget = settings.host_budget_gb
        return sleep_levels.Limits(
            settings.level2_after, settings.stop_after, int(budget * GiB) if budget else None
        )

    async def _demote(self) -> None:
        """Sleepers go deeper as they stay idle and as host RAM runs short: measured here,
        decided by sleep_levels.demotions, done one at a time (a move to level 2 wakes the
        server for a moment, and the next one's room assumed this one asleep again)."""
        asleep = [s for s in self.fleet.servers() if _idle_sleeper(s)]
        table = self.fleet.device_table() if any(s.sleep_level == 1 for s in asleep) else []
        now = time.monotonic()
        sleepers = [self._sleeper(s, table, now) for s in asleep]
        decisions = sleep_levels.demotions(sleepers, self._limits())
        waiting = {d.name for d in decisions if d.to == "wait"}
        for d in decisions:
            if d.to == "wait":
                if d.name not in self._waiting_for_room:
                    log.info("%s stays at sleep level 1: %s", d.name, d.reason)
            else:
                await self._move(d)
        self._waiting_for_room = waiting

    def _sleeper(
        self, server: ManagedServer, table: list[Device], now: float
    ) -> sleep_levels.Sleeper:
        mine = [d for d in table if d.key in server.devices]
        spec = self.fleet.config.servers[server.name]
        budget = self.fleet.budget(server.name, mine[0].total) if mine else 0
        weights = int(spec.weights_gb * GiB) if spec.weights_gb is not None else budget
        level = server.sleep_level or 1
        return sleep_levels.Sleeper(
            name=server.name,
            level=level,
            idle_s=now - server.usage.last_used,
            host_bytes=weights,
            room=level == 1 and self._room(server, mine),
            pinned=server.usage.pinned,
        )

    def _room(self, server: ManagedServer, mine: list[Device]) -> bool:
        """Its devices take it back now without evicting anyone, and no load waits for the
        memory (a demotion must not delay a request)."""
        if self.fleet.queued or not mine:
            return False
        spec = self.fleet.config.servers[server.name]
        budget = self.fleet.budget(server.name, mine[0].total)
        want = Want(server.name, budget, spec.tensor_parallel_size, server.tier)
        plan = capacity.plan(mine, self.fleet.residents(exclude=server.name), want)
        return isinstance(plan, Placement) and not plan.evictions

    async def _move(self, d: sleep_levels.Demotion) -> None:
        server = self.fleet.get(d.name)
        if not _idle_sleeper(server):
            return  # woken for a request while an earlier move of this round ran
        log.info(
            "%s: %s (%s)", d.name, "to sleep level 2" if d.to == "level2" else "stop", d.reason
        )
        to = d.to
        try:
            if to == "level2":
                await server.sleep(2)
            else:
                await server.stop()
        except EngineCallError as exc:
            if server.state is not State.READY:
                return  # the freed check stopped it and counted it (Fleet.sleep_check)
            log.warning("%s refused sleep level 2 (%s): stopping it instead", d.name, exc)
            to = "stop"
            await server.stop()
        except SupervisorError as exc:  # the wake before level 2 failed: it is stopped
            log.warning("%s: could not move to sleep level 2: %s", d.name, exc)
            return
        self.fleet.metrics.demotions.labels(d.name, to).inc()


def _idle_sleeper(server: ManagedServer) -> bool:
    """Asleep and left alone: no wake under way or waiting for memory."""
    return server.state is State.ASLEEP and not server.in_transition
