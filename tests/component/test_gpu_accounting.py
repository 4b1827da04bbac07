"""A server's GPU memory as NVML measures it: the per-process readings of its own pids (a
container's as the host sees them), summed over every device it spans."""

from __future__ import annotations

from pathlib import Path

from supervisor.devices import DeviceReading, memory_of
from tests.component.supervisor_fakes import FakeGpus, rig, server

GiB = 2**30


def test_memory_of_sums_only_the_given_pids_over_every_device() -> None:
    readings = [
        DeviceReading("gpu0", "gpu", 0, "g", 10, 5, 5, {11: 3, 12: 1, 99: 4}),
        DeviceReading("gpu1", "gpu", 1, "g", 10, 2, 8, {12: 2, 98: 7}),
    ]
    assert memory_of(readings, [11, 12]) == 3 + 1 + 2
    assert memory_of(readings, []) == 0
    assert memory_of(readings, [404]) == 0


async def test_a_running_server_reports_its_processes_gpu_memory(tmp_path: Path) -> None:
    gpus = FakeGpus(10, 10)
    async with rig(tmp_path, {"a": server(3), "b": server(3)}, gpus) as r:
        await r.fleet.ensure("a")
        await r.fleet.ensure("b")
        pid_a, pid_b = r.fleet.get("a").pid, r.fleet.get("b").pid
        assert pid_a is not None and pid_b is not None
        gpus.processes[0] = {pid_a: int(2.5 * GiB), pid_b: GiB, 7777: 4 * GiB}
        assert r.fleet.describe(r.fleet.get("a"))["gpu_memory_bytes"] == int(2.5 * GiB)
        assert r.fleet.describe(r.fleet.get("b"))["gpu_memory_bytes"] == GiB
        await r.fleet.stop("a")
        assert r.fleet.describe(r.fleet.get("a"))["gpu_memory_bytes"] == 0
        assert r.fleet.describe(r.fleet.get("b"), memory=False)["gpu_memory_bytes"] is None
