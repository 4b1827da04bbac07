"""Reads the memory there is: NVIDIA GPUs through NVML, or host RAM through psutil.

The capacity policy is the same for both; only the reader differs. Where NVML finds no GPU
(the CPU profile, CI), host memory is accounted instead, so eviction and the ceiling are
exercised for real on a CPU. Per-process GPU memory comes from
`nvmlDeviceGetComputeRunningProcesses`, whose pids are the ones the supervisor sees (measured
on an H200: two children that allocated 6 GB and 3 GB showed 6.64 and 3.64 GB, i.e. ~0.6 GB
of CUDA context each on top).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import psutil

Kind = Literal["gpu", "host"]


@dataclass(frozen=True)
class DeviceReading:
    key: str  # "gpu0", "gpu1", ... or "host"
    kind: Kind
    index: int | None  # the CUDA index, for CUDA_VISIBLE_DEVICES
    name: str
    total: int
    used: int
    free: int
    processes: dict[int, int] = field(default_factory=dict)  # pid -> bytes (GPU only)


class MemoryReader(Protocol):
    kind: Kind

    def read(self) -> list[DeviceReading]: ...

    def close(self) -> None: ...


class HostReader:
    kind: Kind = "host"

    def read(self) -> list[DeviceReading]:
        vm = psutil.virtual_memory()
        return [
            DeviceReading(
                key="host",
                kind="host",
                index=None,
                name=f"host RAM ({psutil.cpu_count()} CPUs)",
                total=vm.total,
                used=vm.total - vm.available,
                free=vm.available,
            )
        ]

    def close(self) -> None:
        pass


class NvmlReader:
    kind: Kind = "gpu"

    def __init__(self, pynvml: object) -> None:
        self._nvml = pynvml

    def read(self) -> list[DeviceReading]:
        nvml = self._nvml
        readings = []
        for index in range(nvml.nvmlDeviceGetCount()):  # type: ignore[attr-defined]
            handle = nvml.nvmlDeviceGetHandleByIndex(index)  # type: ignore[attr-defined]
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)  # type: ignore[attr-defined]
            name = nvml.nvmlDeviceGetName(handle)  # type: ignore[attr-defined]
            processes = {
                p.pid: int(p.usedGpuMemory or 0)
                for p in nvml.nvmlDeviceGetComputeRunningProcesses(handle)  # type: ignore[attr-defined]
            }
            readings.append(
                DeviceReading(
                    key=f"gpu{index}",
                    kind="gpu",
                    index=index,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    total=int(memory.total),
                    used=int(memory.used),
                    free=int(memory.free),
                    processes=processes,
                )
            )
        return readings

    def close(self) -> None:
        self._nvml.nvmlShutdown()  # type: ignore[attr-defined]


class SimulatedGpuReader:
    """GPUs of the given sizes, for placement dry runs and tests where NVML cannot run.

    Nothing is measured: `used` is 0, so placement follows the declared budgets alone.
    """

    kind: Kind = "gpu"

    def __init__(self, sizes_gib: list[float]) -> None:
        self._sizes = [int(gib * 2**30) for gib in sizes_gib]

    def read(self) -> list[DeviceReading]:
        return [
            DeviceReading(
                key=f"gpu{i}",
                kind="gpu",
                index=i,
                name="simulated GPU",
                total=size,
                used=0,
                free=size,
            )
            for i, size in enumerate(self._sizes)
        ]

    def close(self) -> None:
        pass


def memory_of(readings: list[DeviceReading], pids: list[int]) -> int:
    """GPU memory held by these pids, summed over every device (a tensor-parallel server holds
    memory on several): NVML's per-process figures, CUDA context included."""
    wanted = set(pids)
    return sum(b for r in readings for pid, b in r.processes.items() if pid in wanted)


def open_reader(simulate_gib: list[float] | None = None) -> tuple[MemoryReader, str]:
    """NVML when a driver lists at least one GPU, else host memory; and why, for the logs."""
    if simulate_gib:
        return SimulatedGpuReader(simulate_gib), f"simulating GPUs of {simulate_gib} GiB"
    try:
        import pynvml
    except ImportError:
        return HostReader(), "nvidia-ml-py is not installed: accounting host memory"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return HostReader(), f"NVML unavailable ({type(exc).__name__}): accounting host memory"
    if pynvml.nvmlDeviceGetCount() == 0:
        pynvml.nvmlShutdown()
        return HostReader(), "NVML lists no GPU: accounting host memory"
    reader = NvmlReader(pynvml)
    return reader, f"NVML: accounting GPU memory of {len(reader.read())} device(s)"
