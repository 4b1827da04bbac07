"""Sleep levels on the fakes (issue 16, "sleep levels that follow the temperature"): an idle
warm server sleeps at level 1, goes to level 2 through a wake (vLLM ignores a sleep while
asleep), then stops; the host-RAM budget demotes the least recently used sleeper; a level-2
wake reloads; and a sleep that leaves the GPU memory held (NVML, here FakeGpus) is no sleep:
the server is stopped and counted."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from supervisor import statefile
from supervisor.adoption import adopt_survivors
from supervisor.engine import EngineCallError
from supervisor.monitor import Monitor
from supervisor.server import ManagedServer
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, GiB, Rig, rig, server, until

LOG = "modelyard.supervisor"
WARM_TTL = {"a": server(3, "warm", idle_ttl=0.05)}


async def idle_for(a: ManagedServer, seconds: float) -> None:
    await until(lambda: time.monotonic() - a.usage.last_used >= seconds, f"{seconds} s idle")


async def test_an_idle_warm_server_goes_to_level_one_then_two_then_stops(tmp_path: Path) -> None:
    sleep = {"level2_after": 0.5, "stop_after": 1.0}
    async with rig(
        tmp_path, {"a": server(3, "warm", idle_ttl=0.05)}, FakeGpus(10), sleep=sleep
    ) as r:
        monitor = Monitor(r.fleet)
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        await idle_for(a, 0.05)
        await monitor.tick()
        assert (a.state, a.sleep_level) == (State.ASLEEP, 1)
        assert r.fleet.describe(a)["sleep_level"] == 1

        last_used = a.usage.last_used
        await idle_for(a, 0.5)
        await monitor.tick()
        assert (a.state, a.sleep_level) == (State.ASLEEP, 2)
        # vLLM keeps the host copy on a second sleep: the move goes through a wake
        assert r.engine.levels == [("sleep", 1), ("wake", 1), ("sleep", 2)]
        assert a.usage.last_used == last_used, "the move is not a use: the idle clock runs on"
        assert r.count("modelyard_demotions_total", server="a", to="level2") == 1
        assert statefile.load(r.fleet.state_file)[0].sleep_level == 2

        await idle_for(a, 1.0)
        await monitor.tick()
        assert a.state is State.STOPPED and r.launcher.running() == []
        assert r.count("modelyard_demotions_total", server="a", to="stop") == 1


async def test_a_server_already_idle_past_level2_after_sleeps_at_level_two_at_once(
    tmp_path: Path,
) -> None:
    sleep = {"level2_after": 0.05, "stop_after": None}
    async with rig(
        tmp_path, {"a": server(3, "warm", idle_ttl=0.05)}, FakeGpus(10), sleep=sleep
    ) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        await idle_for(a, 0.05)
        await Monitor(r.fleet).tick()
        assert (a.state, a.sleep_level) == (State.ASLEEP, 2)
        assert r.engine.levels == [("sleep", 2)], "no level-1 stay, no wake to leave it"
        assert r.count("modelyard_evictions_total", server="a", action="sleep") == 1


async def test_a_level_two_wake_reloads_and_sleep_only_goes_deeper(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        await a.sleep(2)
        assert (a.state, a.sleep_level) == (State.ASLEEP, 2)
        await a.sleep(1)  # lighter than it sleeps: nothing to do
        await r.fleet.ensure("a")
        assert (a.state, a.sleep_level) == (State.READY, None)
        assert r.engine.levels == [("sleep", 2), ("wake", 2)]
        assert len(r.launcher.handles) == 1, "the same process, its weights reloaded"

        await a.sleep()
        await a.sleep(1)
        await a.sleep(2)
        assert a.sleep_level == 2 and a.devices == ("gpu0",)
        assert r.engine.levels[2:] == [("sleep", 1), ("wake", 1), ("sleep", 2)]
        with pytest.raises(ValueError, match="levels are 1 and 2"):
            await a.sleep(3)


async def test_an_adopted_level_two_sleeper_keeps_its_level(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10)) as r:
        port, devices = 47150, ("gpu0",)
        spec = r.fleet.render("a", port, devices)
        r.launcher.survivor(4242, spec, r.fleet.get("a").log_path)
        record = statefile.Record(
            "a", 4242, port, spec.argv, list(devices), time.time(), True, spec.fingerprint()
        )
        statefile.save(r.fleet.state_file, [statefile.Record(**{**vars(record), "sleep_level": 2})])
        assert await adopt_survivors(r.fleet) == (["a"], [])
        a = r.fleet.get("a")
        assert (a.state, a.sleep_level) == (State.ASLEEP, 2)
        await r.fleet.ensure("a")
        assert r.engine.levels == [("wake", 2)]


async def sleep_three(r: Rig) -> list[ManagedServer]:
    """a, b and c used in that order (a least recently), then all asleep at level 1."""
    for name in ("a", "b", "c"):
        await r.fleet.ensure(name)
    sleepers = [r.fleet.get(name) for name in ("a", "b", "c")]
    for s in sleepers:
        await s.sleep()
    return sleepers


BUDGETED = {name: server(2, "warm", weights_gb=1.5) for name in ("a", "b", "c")}
NO_IDLE_RULES = {"level2_after": None, "stop_after": None, "host_budget_gb": 2.5}


async def test_the_host_budget_sends_the_least_recently_used_to_level_two(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with rig(tmp_path, BUDGETED, FakeGpus(10), sleep=NO_IDLE_RULES) as r:
        a, b, c = await sleep_three(r)
        with caplog.at_level(logging.INFO, logger=LOG):
            await Monitor(r.fleet).tick()
        # 4.5 GiB of weights in host RAM, 2.5 allowed: a (least recent), then b go to level 2
        assert [s.sleep_level for s in (a, b, c)] == [2, 2, 1]
        assert r.count("modelyard_demotions_total", server="a", to="level2") == 1
        assert r.count("modelyard_demotions_total", server="b", to="level2") == 1
        assert "a: to sleep level 2 (level-1 sleepers hold 4.5 GiB of host RAM" in caplog.text
        assert "past the budget of 2.5 GiB; least recently used" in caplog.text
        await Monitor(r.fleet).tick()
        assert [s.sleep_level for s in (a, b, c)] == [2, 2, 1], "within the budget now"


async def test_without_room_to_wake_them_the_host_budget_stops_sleepers(tmp_path: Path) -> None:
    async with rig(tmp_path, BUDGETED, FakeGpus(10), sleep=NO_IDLE_RULES) as r:
        gpus = r.gpus
        a, b, c = await sleep_three(r)
        gpus.used = [int(7.5 * GiB)]  # another program: no 2 GiB left under the 8 GiB ceiling
        await Monitor(r.fleet).tick()
        assert [s.state for s in (a, b, c)] == [State.STOPPED, State.STOPPED, State.ASLEEP]
        assert r.engine.levels.count(("wake", 1)) == 0, "no wake without room for it"
        assert r.count("modelyard_demotions_total", server="a", to="stop") == 1


async def test_a_sleeper_due_for_level_two_waits_for_room(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sleep = {"level2_after": 0.05, "stop_after": None}
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10), sleep=sleep) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        await a.sleep()
        r.gpus.used = [7 * GiB]
        await idle_for(a, 0.05)
        monitor = Monitor(r.fleet)
        with caplog.at_level(logging.INFO, logger=LOG):
            await monitor.tick()
            await monitor.tick()
        assert a.sleep_level == 1
        assert caplog.text.count("a stays at sleep level 1") == 1, "said once, not every round"
        assert "no GPU room to wake it for the move yet" in caplog.text
        r.gpus.used = [0]
        await monitor.tick()
        assert a.sleep_level == 2


async def test_a_sleep_that_leaves_the_memory_held_stops_the_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with rig(tmp_path, {"a": server(4, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        r.gpus.used = [5 * GiB]  # what NVML shows while it serves
        r.engine.on_sleep = lambda url, level: r.gpus.used.__setitem__(0, int(4.5 * GiB))
        with caplog.at_level(logging.WARNING, logger=LOG), pytest.raises(EngineCallError):
            await a.sleep()
        assert a.state is State.STOPPED and r.launcher.running() == []
        assert r.count("modelyard_demotions_total", server="a", to="stop") == 1
        assert "its sleep freed 0.50 GiB of a 4.00 GiB budget" in caplog.text
        assert "used on gpu0: 5.00 GiB before, 4.50 GiB after" in caplog.text
        assert "freed_share wants 2.00 GiB" in caplog.text


async def test_a_sleep_that_frees_the_memory_passes(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(4, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        r.gpus.used = [5 * GiB]
        r.engine.on_sleep = lambda url, level: r.gpus.used.__setitem__(0, GiB)
        await a.sleep()
        assert (a.state, a.sleep_level) == (State.ASLEEP, 1)
        assert r.count("modelyard_demotions_total", server="a", to="stop") == 0


async def test_the_check_reads_the_servers_own_processes_when_nvml_lists_them(
    tmp_path: Path,
) -> None:
    """A neighbour loading on the same GPU during the sleep must not hide what it freed."""
    async with rig(tmp_path, {"a": server(4, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        assert a.pid is not None
        gpus, pid = r.gpus, a.pid
        gpus.used, gpus.processes[0] = [5 * GiB], {pid: int(4.5 * GiB)}

        def sleeping(url: str, level: int) -> None:
            gpus.processes[0] = {pid: GiB // 2, 9999: 6 * GiB}  # it freed 4, a neighbour took 6
            gpus.used = [int(7.5 * GiB)]

        r.engine.on_sleep = sleeping
        await a.sleep()
        assert a.state is State.ASLEEP

        gpus.used, gpus.processes[0] = [0], {}  # the neighbour went
        await r.fleet.ensure("a")
        gpus.used, gpus.processes[0] = [5 * GiB], {pid: int(4.5 * GiB)}
        r.engine.on_sleep = lambda url, level: None  # its own figure stays: not freed
        with pytest.raises(EngineCallError):
            await a.sleep()
        assert r.launcher.running() == [], "stopped"
