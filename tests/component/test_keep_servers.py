"""supervisor.keep_servers (hardening issue): the supervisor's exit leaves its ready and asleep
servers running and recorded for the next one to adopt; what was mid-transition is stopped."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from supervisor import statefile
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, rig, server, until


async def test_shutdown_keeps_ready_and_asleep_servers_and_records_them(tmp_path: Path) -> None:
    servers = {"a": server(2), "b": server(2, "warm"), "c": server(2)}
    async with rig(tmp_path, servers, FakeGpus(10), keep_servers=True) as r:
        await r.fleet.ensure("a")
        await r.fleet.ensure("b")
        await r.fleet.get("b").sleep()
        kept = list(r.launcher.handles)
        r.launcher.gate = asyncio.Event()  # c is caught starting
        starting = asyncio.create_task(r.fleet.ensure("c"))
        await r.launcher.at_gate.wait()
        assert r.fleet.get("c").state is State.STARTING

        await r.fleet.shutdown()
        await r.fleet.shutdown()  # the CLI's belt and braces calls it again: a no-op

        assert [h.stops for h in kept] == [0, 0] and not any(h.exited for h in kept)
        states = {s.name: s.state for s in r.fleet.servers()}
        assert states == {"a": State.READY, "b": State.ASLEEP, "c": State.STOPPED}
        records = {rec.name: rec for rec in statefile.load(r.fleet.state_file)}
        assert sorted(records) == ["a", "b"]
        assert (records["a"].pid, records["a"].asleep) == (kept[0].pid, False)
        assert (records["b"].pid, records["b"].asleep) == (kept[1].pid, True)
        with contextlib.suppress(Exception):
            await starting


async def test_without_keep_servers_shutdown_stops_everything(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(2)}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        await r.fleet.shutdown()
        await until(lambda: r.launcher.running() == [], "the server to stop")
        assert r.fleet.get("a").state is State.STOPPED
        assert statefile.load(r.fleet.state_file) == []
