"""Which servers.yaml `modelyard up` takes when none is given: the GPU box's or the CPU profile.

NVML decides: a driver that lists at least one NVIDIA GPU means the GPU box's servers.yaml;
anything else (no driver, no library, no device) means the embedded CPU profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supervisor import paths
from supervisor.devices import open_reader


@dataclass(frozen=True)
class Choice:
    path: Path
    reason: str


def choose(explicit: Path | None) -> Choice:
    if explicit is not None:
        return Choice(explicit, "given with --config")
    root = paths.project_root()
    reader, why = open_reader()
    reader.close()
    if reader.kind == "gpu":
        return Choice(root / "servers.yaml", f"{why}: using the GPU box profile")
    return Choice(root / "profiles" / "cpu.yaml", f"{why}: using the CPU profile")
