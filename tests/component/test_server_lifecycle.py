"""ManagedServer's lifecycle on fakes: single-flight ensure, a start cancelled midway, exits
while starting, refused sleep and wake, and adoption of a previous supervisor's survivors."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from supervisor import statefile
from supervisor.adoption import adopt_survivors
from supervisor.engine import EngineCallError
from supervisor.errors import StartFailedError
from supervisor.states import State, TransitionError
from tests.component.supervisor_fakes import FakeGpus, Rig, rig, server, until

ONE_PORT = [47200, 47200]  # a second start succeeds only if the first gave its port back


async def test_concurrent_ensures_share_one_start(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        r.launcher.gate = asyncio.Event()
        callers = [asyncio.create_task(r.fleet.ensure("a")) for _ in range(3)]
        await asyncio.wait_for(r.launcher.at_gate.wait(), timeout=5)
        r.launcher.gate.set()
        answers = await asyncio.wait_for(asyncio.gather(*callers), timeout=5)
        assert [a["state"] for a in answers] == ["ready"] * 3
        assert len({a["pid"] for a in answers}) == 1
        assert len(r.launcher.handles) == 1 and r.fleet.get("a").starts == 1
        assert r.count("modelyard_loads_total", server="a") == 1


async def test_stop_while_launching_leaves_nothing_and_fails_the_waiters(tmp_path: Path) -> None:
    servers = {"a": server(5), "b": server(5)}
    async with rig(tmp_path, servers, FakeGpus(10), port_range=ONE_PORT) as r:
        r.launcher.gate = asyncio.Event()
        waiters = [asyncio.create_task(r.fleet.ensure("a")) for _ in range(2)]
        await asyncio.wait_for(r.launcher.at_gate.wait(), timeout=5)
        await r.fleet.stop("a")
        for waiter in waiters:
            with pytest.raises(StartFailedError, match="stopped while starting"):
                await waiter
        a = r.fleet.get("a")
        assert a.state is State.STOPPED and r.launcher.handles == []
        assert (a.port, a.devices) == (None, ())
        r.launcher.gate = None
        await r.fleet.ensure("b")  # needs the only port and the memory a had claimed
        assert r.fleet.get("b").state is State.READY


async def test_stop_while_waiting_for_health_takes_the_started_server_down(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10), port_range=ONE_PORT) as r:
        r.engine.answering = False
        waiter = asyncio.create_task(r.fleet.ensure("a"))
        await until(lambda: len(r.launcher.handles) == 1, "the launch")
        await r.fleet.stop("a")
        with pytest.raises(StartFailedError, match="stopped while starting"):
            await waiter
        assert r.launcher.handles[0].stops == 1 and r.launcher.running() == []
        assert r.fleet.get("a").state is State.STOPPED and r.fleet.get("a").port is None


async def test_exit_while_starting_fails_with_the_exit_code_and_log_tail(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        r.engine.answering = False
        waiter = asyncio.create_task(r.fleet.ensure("a"))
        await until(lambda: len(r.launcher.handles) == 1, "the launch")
        r.launcher.handles[0].exit(7, output="boom: weights not found")
        with pytest.raises(StartFailedError) as caught:
            await waiter
        assert caught.value.exit_code == 7
        assert "exited with code 7 while starting" in caught.value.reason
        assert caught.value.log_tail[-1] == "boom: weights not found"
        a = r.fleet.get("a")
        assert a.state is State.FAILED and (a.port, a.devices) == (None, ())
        assert r.fleet.describe(a)["exit_code"] == 7


async def test_a_crash_is_failed_at_once_while_its_leftovers_are_taken_down(
    tmp_path: Path,
) -> None:
    """kill -9 of a vLLM leader leaves its engine core alive, and taking that down may last the
    whole stop_grace: meanwhile the server must not be `ready` (its address is dead), and a new
    start waits until the leftovers, which hold its memory and port, are gone."""
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10), port_range=ONE_PORT) as r:
        await r.fleet.ensure("a")
        first = r.launcher.handles[0]
        first.leftovers, first.stop_gate = [first.pid + 50_000], asyncio.Event()
        first.exit(-9)
        a = r.fleet.get("a")
        await until(lambda: a.state is State.FAILED, "the crash to be noticed")
        assert first.stops == 1 and first.members(), "its leftovers are being taken down"
        assert a.port is not None, "the port is still held by the leftovers"
        again = asyncio.create_task(r.fleet.ensure("a"))
        await asyncio.sleep(0.05)  # give a wrong implementation the chance to start it early
        assert len(r.launcher.handles) == 1 and not again.done()
        first.stop_gate.set()
        await asyncio.wait_for(again, timeout=5)
        assert a.state is State.READY and len(r.launcher.handles) == 2


async def test_a_refused_sleep_leaves_the_server_ready(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        r.engine.refuse_sleep = True
        with pytest.raises(EngineCallError):
            await r.fleet.get("a").sleep()
        assert r.fleet.get("a").state is State.READY
        await r.fleet.ensure("a")
        assert len(r.launcher.handles) == 1


async def test_sleep_then_wake_keeps_the_process(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        await a.sleep()
        assert a.state is State.ASLEEP and a.devices == ("gpu0",)
        await r.fleet.ensure("a")
        assert a.state is State.READY and len(r.launcher.handles) == 1
        assert [call for call, _ in r.engine.calls] == ["sleep", "wake"]


async def test_a_refused_wake_fails_and_stops_the_server(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        await r.fleet.get("a").sleep()
        r.engine.refuse_wake = True
        with pytest.raises(StartFailedError, match="wake failed"):
            await r.fleet.ensure("a")
        assert r.fleet.get("a").state is State.STOPPED and r.launcher.running() == []


def record_survivor(r: Rig, name: str, pid: int, asleep: bool = False) -> statefile.Record:
    """What a previous supervisor wrote for `name`, and the survivor the launcher finds."""
    port, devices = 47150, ("gpu0",)
    spec = r.fleet.render(name, port, devices)
    record = statefile.Record(
        name, pid, port, spec.argv, list(devices), time.time() - 5, asleep, spec.fingerprint()
    )
    r.launcher.survivor(pid, spec, r.fleet.get(name).log_path)
    return record


async def test_a_ready_survivor_is_adopted_not_started_again(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        record = record_survivor(r, "a", pid=4242)
        statefile.save(r.fleet.state_file, [record])
        adopted, killed = await adopt_survivors(r.fleet)
        assert (adopted, killed) == (["a"], [])
        a = r.fleet.get("a")
        assert (a.state, a.pid, a.port, a.devices) == (State.READY, 4242, 47150, ("gpu0",))
        assert a.starts == 0 and r.count("modelyard_loads_total", server="a") == 0
        assert (a.uptime_s or 0) >= 5
        await r.fleet.ensure("a")
        assert r.launcher.handles == [], "served by the survivor"
        assert statefile.load(r.fleet.state_file) == [record]


async def test_a_survivor_whose_workload_changed_is_stopped_not_adopted(tmp_path: Path) -> None:
    """Same command, different fingerprint (its env or container changed in the config)."""
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        record = record_survivor(r, "a", pid=4242)
        statefile.save(r.fleet.state_file, [replace(record, fingerprint="0" * 16)])
        adopted, killed = await adopt_survivors(r.fleet)
        assert (adopted, killed) == ([], ["a (pid 4242)"])
        assert r.fleet.get("a").state is State.STOPPED
        assert r.launcher.survivors[4242].stops == 1


async def test_an_asleep_survivor_is_adopted_asleep_and_wakes_on_demand(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, "warm")}, FakeGpus(10)) as r:
        statefile.save(r.fleet.state_file, [record_survivor(r, "a", pid=4242, asleep=True)])
        assert await adopt_survivors(r.fleet) == (["a"], [])
        a = r.fleet.get("a")
        assert a.state is State.ASLEEP and a.starts == 0
        await r.fleet.ensure("a")
        assert a.state is State.READY and r.launcher.handles == []
        assert [call for call, _ in r.engine.calls] == ["wake"]
        assert r.count("modelyard_loads_total", server="a") == 0


async def test_a_survivor_that_does_not_answer_is_stopped_as_an_orphan(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        statefile.save(r.fleet.state_file, [record_survivor(r, "a", pid=4242)])
        r.engine.answering = False
        assert await adopt_survivors(r.fleet) == ([], ["a (pid 4242)"])
        assert r.launcher.survivors[4242].stops == 1
        assert r.fleet.get("a").state is State.STOPPED
        assert statefile.load(r.fleet.state_file) == []


async def test_adopting_over_a_running_server_is_a_bug(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        a = r.fleet.get("a")
        record = record_survivor(r, "a", pid=4242)
        with pytest.raises(TransitionError):
            a.adopt(r.launcher.survivors[4242], r.fleet.render("a", 47150, ("gpu0",)), record)
        assert a.pid == r.launcher.handles[0].pid, "nothing changed"
