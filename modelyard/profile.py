"""Which servers.yaml `modelyard up` takes when none is given: the GPU box's or the CPU profile.

NVML decides: a driver that lists at least one NVIDIA GPU means the GPU box's servers.yaml;
anything else (no driver, no library, no device) means the embedded CPU profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supervisor import paths


@dataclass(frozen=True)
class Choice:
    path: Path
    reason: str


def gpu_count() -> tuple[int, str]:
    try:
        import pynvml
    except ImportError:
        return 0, "nvidia-ml-py is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:  # LibraryNotFound without a driver, DriverNotLoaded, ...
        return 0, f"NVML unavailable ({type(exc).__name__})"
    try:
        count = int(pynvml.nvmlDeviceGetCount())
    finally:
        pynvml.nvmlShutdown()
    return count, f"NVML found {count} NVIDIA GPU(s)"


def choose(explicit: Path | None) -> Choice:
    if explicit is not None:
        return Choice(explicit, "given with --config")
    root = paths.project_root()
    count, why = gpu_count()
    if count > 0:
        return Choice(root / "servers.yaml", f"{why}: using the GPU box profile")
    return Choice(root / "profiles" / "cpu.yaml", f"{why}: using the CPU profile")
