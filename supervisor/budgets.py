"""How much memory each server plans, where the ceiling is, and which budgets can never fit.

Pure functions of the config and a device reading. The same numbers serve the fleet's
admission, the startup check and `modelyard check`, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from modelyard_config import Config
from modelyard_config.supervisor import SupervisorSettings
from supervisor import capacity
from supervisor.devices import DeviceReading

GiB = 2**30


def budget_bytes(config: Config, name: str, total: int) -> int:
    """Bytes `name` plans per device: GPU memory on a GPU box, host RAM without NVML.
    A server that declares no budget is not accounted (0), e.g. a tiny sidecar."""
    spec = config.servers[name]
    if spec.gpu_memory_gb is not None:
        return int(spec.gpu_memory_gb * GiB)
    if spec.gpu_memory_fraction is not None:
        return int(spec.gpu_memory_fraction * total)
    return 0


def ceiling(settings: SupervisorSettings, total: int) -> int:
    limit = int(settings.gpu_memory_limit * total)
    return min(limit, int(settings.memory_cap_gb * GiB)) if settings.memory_cap_gb else limit


def never_fit_problems(config: Config, readings: Sequence[DeviceReading]) -> list[tuple[str, str]]:
    """(key path, reason) for every budget no device here can ever hold."""
    if not readings:
        return []
    table = [
        capacity.Device(r.key, r.total, 0, ceiling(config.supervisor, r.total)) for r in readings
    ]
    problems = []
    for name, spec in config.local().servers.items():
        budget = budget_bytes(config, name, readings[0].total)
        if not budget:
            continue
        reason = capacity.never_fits(table, budget, spec.tensor_parallel_size)
        if reason:
            key = "gpu_memory_gb" if spec.gpu_memory_gb is not None else "gpu_memory_fraction"
            problems.append((f"servers.{name}.{key}", reason))
    return problems
