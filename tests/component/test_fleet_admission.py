"""Fleet admission on fakes: a start that fits goes ahead, one that does not evicts the least
valuable idle server (cold: stopped, warm: put to sleep), never a pinned, hot or busy one, and
otherwise waits in the queue until memory frees or the queue's deadline passes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from supervisor.engine import Load
from supervisor.errors import CapacityError
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, GiB, rig, server, until

# One 10 GiB GPU: at the default 80% limit, 8 GiB may be planned; two 5 GiB servers cannot
# both fit, two 3 GiB ones can.
ONE_GPU = 10


async def test_a_server_that_fits_starts_without_evicting_anyone(tmp_path: Path) -> None:
    servers = {"a": server(3), "b": server(3)}
    async with rig(tmp_path, servers, FakeGpus(ONE_GPU)) as r:
        await r.fleet.ensure("a")
        await r.fleet.ensure("b")
        a, b = r.fleet.get("a"), r.fleet.get("b")
        assert a.state is b.state is State.READY
        assert a.devices == b.devices == ("gpu0",)
        assert r.count("modelyard_loads_total", server="b") == 1
        assert r.count("modelyard_evictions_total", server="a", action="stop") == 0


async def test_no_room_stops_the_idle_cold_server(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(5), "b": server(5)}, FakeGpus(ONE_GPU)) as r:
        await r.fleet.ensure("a")
        first = r.launcher.handles[0]
        await r.fleet.ensure("b")
        assert r.fleet.get("a").state is State.STOPPED and first.exited
        assert r.fleet.get("b").state is State.READY
        assert r.count("modelyard_evictions_total", server="a", action="stop") == 1


async def test_no_room_puts_the_idle_warm_server_to_sleep(tmp_path: Path) -> None:
    servers = {"a": server(5, "warm"), "b": server(5)}
    async with rig(tmp_path, servers, FakeGpus(ONE_GPU)) as r:
        await r.fleet.ensure("a")
        url = r.fleet.get("a").base_url
        await r.fleet.ensure("b")
        assert r.fleet.get("a").state is State.ASLEEP
        assert ("sleep", url) in r.engine.calls
        assert r.launcher.handles[0].stops == 0, "asleep, not stopped"
        assert r.count("modelyard_evictions_total", server="a", action="sleep") == 1


async def test_a_warm_server_that_refuses_to_sleep_is_stopped_instead(tmp_path: Path) -> None:
    servers = {"a": server(5, "warm"), "b": server(5)}
    async with rig(tmp_path, servers, FakeGpus(ONE_GPU)) as r:
        await r.fleet.ensure("a")
        r.engine.refuse_sleep = True
        await r.fleet.ensure("b")
        assert r.fleet.get("a").state is State.STOPPED
        assert r.count("modelyard_evictions_total", server="a", action="stop") == 1


async def test_cold_goes_before_warm_and_the_least_recently_used_first(tmp_path: Path) -> None:
    servers = {"cold1": server(2), "cold2": server(2), "warm": server(2, "warm"), "new": server(3)}
    async with rig(tmp_path, servers, FakeGpus(ONE_GPU)) as r:
        for name in ("warm", "cold1", "cold2"):  # warm is the least recently used of all
            await r.fleet.ensure(name)
        await r.fleet.ensure("cold1")  # used again: cold2 is the least recently used cold one
        await r.fleet.ensure("new")  # 6 GiB planned + 3 > 8: one 2 GiB server must go
        states = {s.name: s.state for s in r.fleet.servers()}
        assert states == {
            "cold1": State.READY,
            "cold2": State.STOPPED,
            "warm": State.READY,
            "new": State.READY,
        }


@pytest.mark.parametrize("protection", ["pinned", "hot", "in flight"])
async def test_a_protected_server_is_never_evicted_and_the_wait_times_out(
    tmp_path: Path, protection: str
) -> None:
    tier = "hot" if protection == "hot" else "cold"
    servers = {"a": server(5, tier), "b": server(5)}
    async with rig(tmp_path, servers, FakeGpus(ONE_GPU), queue_timeout=0.3) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        if protection == "pinned":
            a.usage.pin()
        if protection == "in flight":  # idle by the last reading; busy when re-read to evict
            assert a.base_url is not None
            r.engine.loads[a.base_url] = Load(in_flight=1, served=0)
        with pytest.raises(CapacityError) as caught:
            await r.fleet.ensure("b")
        retry = caught.value.retry_after
        assert retry is not None and retry >= 1, "waiting may help: a may go idle or unpinned"
        assert protection in caught.value.reason, "named as what holds the memory"
        assert a.state is State.READY and not r.launcher.handles[0].exited
        assert r.fleet.get("b").state is State.STOPPED
        assert r.fleet.queued == 0


async def test_a_queued_start_proceeds_once_the_server_in_its_way_stops(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(5), "b": server(5)}, FakeGpus(ONE_GPU)) as r:
        await r.fleet.ensure("a")
        r.fleet.get("a").usage.pin()
        waiting = asyncio.create_task(r.fleet.ensure("b"))
        await until(lambda: r.fleet.queued == 1, "b to queue")
        assert r.count("modelyard_queue_length") == 1
        await r.fleet.stop("a")
        answer = await asyncio.wait_for(waiting, timeout=5)
        assert answer["state"] == "ready"
        assert r.fleet.queued == 0


async def test_a_queued_start_proceeds_once_foreign_memory_is_freed(tmp_path: Path) -> None:
    gpus = FakeGpus(ONE_GPU)
    async with rig(tmp_path, {"a": server(5)}, gpus) as r:
        gpus.used = [6 * GiB]  # another program holds 6 GiB: nothing of ours to evict
        waiting = asyncio.create_task(r.fleet.ensure("a"))
        await until(lambda: r.fleet.queued == 1, "a to queue")
        gpus.used = [0]  # no lifecycle event: the queue re-measures on its own
        answer = await asyncio.wait_for(waiting, timeout=5)
        assert answer["state"] == "ready"


async def test_a_server_that_can_never_fit_fails_at_once(tmp_path: Path) -> None:
    async with rig(tmp_path, {"huge": server(9)}, FakeGpus(ONE_GPU), queue_timeout=30) as r:
        began = time.monotonic()
        with pytest.raises(CapacityError) as caught:
            await r.fleet.ensure("huge")
        assert caught.value.retry_after is None, "waiting cannot help"
        assert time.monotonic() - began < 5, "no wait in the queue"
        assert r.launcher.handles == [] and r.fleet.queued == 0
        assert r.fleet.get("huge").state is State.STOPPED
