"""The monitor and restarts on fakes: failed probes and crashes lead to restarts with a
doubling, capped backoff until max_restarts, a stable server's count starts again from zero,
and idle servers expire by tier unless they are pinned or busy."""

from __future__ import annotations

import time
from pathlib import Path

from supervisor.engine import Load
from supervisor.monitor import Monitor
from supervisor.server import ManagedServer
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, Rig, rig, server, until

# Two restarts in a row, then it stays failed; backoff 0.04 s doubling, capped at 0.06 s.
HEALTH = {"failures": 2, "max_restarts": 2, "backoff_initial": 0.04, "backoff_max": 0.06}


async def fail_probes(r: Rig, monitor: Monitor, a: ManagedServer) -> float:
    """Make `a` stop answering and tick until the monitor gives up on it; returns the time
    just before the deciding probe, which the restart's backoff counts from (or later)."""
    assert a.base_url is not None
    r.engine.silent.add(a.base_url)
    await monitor.tick()
    assert a.state is State.READY, "one failed probe is not enough"
    before = time.monotonic()
    await monitor.tick()
    assert a.state is State.FAILED
    assert a.failure is not None and "2 health checks failed" in a.failure.reason
    return before


async def test_failed_probes_restart_with_growing_backoff_then_give_up(tmp_path: Path) -> None:
    health = {**HEALTH, "max_restarts": 3}
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10), health=health) as r:
        monitor = Monitor(r.fleet)
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        waited = []
        for attempt in (1, 2, 3):
            failed_at = await fail_probes(r, monitor, a)
            assert r.launcher.running() == [], "the wedged server is taken down"
            await until(lambda: a.state is State.READY, f"restart {attempt}")
            waited.append(r.launcher.handles[-1].created_at - failed_at)
            assert (a.restarts, a.starts) == (attempt, attempt + 1)
        # 0.04, 0.08 capped to 0.06, 0.16 capped to 0.06: lower bounds are exact; the upper
        # one only tells the cap from the uncapped 0.16 s, with room for a slow machine.
        assert waited[0] >= 0.04 and waited[1] >= 0.06 and 0.06 <= waited[2] < 0.16
        await fail_probes(r, monitor, a)
        assert a.state is State.FAILED and r.launcher.running() == []
        assert len(r.launcher.handles) == 4, "given up after max_restarts"
        assert r.count("modelyard_restarts_total", server="a") == 3


async def test_a_crash_while_ready_is_restarted_until_max_restarts(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10), health=HEALTH) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        for attempt in (1, 2, 3):
            r.launcher.handles[-1].exit(7)
            await until(lambda: a.state is not State.READY, f"crash {attempt} to be seen")
            if attempt < 3:
                await until(lambda: a.state is State.READY, f"restart {attempt}")
        await until(lambda: a.failure is not None, "the last crash to be recorded")
        assert a.failure is not None and a.failure.exit_code == 7
        assert "while ready" in a.failure.reason
        assert (a.restarts, a.starts) == (2, 3)


async def test_a_restart_count_resets_after_stable_uptime(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10), health=HEALTH) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        r.launcher.handles[-1].exit(1)
        await until(lambda: a.state is State.READY and a.restarts == 1, "the restart")
        await Monitor(r.fleet, stable_after=3600).tick()
        assert a.restarts == 1, "not up long enough to count as recovered"
        await until(lambda: (a.uptime_s or 0) >= 0.05, "50 ms of uptime")
        await Monitor(r.fleet, stable_after=0.05).tick()
        assert a.restarts == 0


async def test_idle_servers_expire_by_tier(tmp_path: Path) -> None:
    ttl = {"idle_ttl": 0.05}
    servers = {
        "hot": server(1, "hot", **ttl),
        "warm": server(1, "warm", **ttl),
        "cold": server(1, "cold", **ttl),
        "pinned": server(1, "cold", **ttl),
        "busy": server(1, "cold", **ttl),
        "fresh": server(1, "cold", idle_ttl=3600),
    }
    async with rig(tmp_path, servers, FakeGpus(10)) as r:
        for name in servers:
            await r.fleet.ensure(name)
        r.fleet.get("pinned").usage.pin()
        busy_url = r.fleet.get("busy").base_url
        assert busy_url is not None
        r.engine.loads[busy_url] = Load(in_flight=1, served=0)
        idle_since = time.monotonic()
        await until(lambda: time.monotonic() - idle_since >= 0.05, "the ttl to pass")
        await Monitor(r.fleet).tick()
        states = {s.name: s.state for s in r.fleet.servers()}
        assert states == {
            "hot": State.READY,
            "warm": State.ASLEEP,
            "cold": State.STOPPED,
            "pinned": State.READY,
            "busy": State.READY,
            "fresh": State.READY,
        }


async def test_traffic_seen_in_load_readings_keeps_a_server_alive(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(1, idle_ttl=0.2)}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        assert a.base_url is not None
        monitor = Monitor(r.fleet)
        r.engine.loads[a.base_url] = Load(in_flight=0, served=0)
        await monitor.tick()  # the first reading is a baseline, not a use
        await until(lambda: time.monotonic() - a.usage.last_used >= 0.2, "the ttl to pass")
        r.engine.loads[a.base_url] = Load(in_flight=0, served=3)  # served past the proxy
        await monitor.tick()
        assert a.state is State.READY and a.usage.served == 3
        await until(lambda: time.monotonic() - a.usage.last_used >= 0.2, "the ttl to pass")
        await monitor.tick()
        assert a.state is State.STOPPED
