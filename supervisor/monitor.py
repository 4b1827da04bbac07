"""The supervisor's periodic work: health probes, load readings, idle expiry, log rotation.

Exits are noticed at once by the launcher's handles (pidfds); this loop catches what an exit
does not show: a server alive but no longer answering (N failed probes in a row: it is killed
and restarted with backoff, up to M times), how busy each server is (the engine's load), and
which idle servers have outlived their TTL (warm: sleep, cold: stop; hot: never). It also
rotates each server's log once it passes supervisor.log_max_bytes (server_logs.rotate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from supervisor import capacity, server_logs
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
        for eviction in capacity.expired(fleet.residents(), time.monotonic(), ttl):
            with contextlib.suppress(SupervisorError):
                log.info("%s idle past its ttl: %s", eviction.name, eviction.action)
                await fleet.evict(eviction)
