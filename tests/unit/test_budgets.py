"""Budgets in bytes, the ceiling, and budgets that can never fit (a startup config error)."""

from __future__ import annotations

from typing import Any

from modelyard_config import Config, parse_config
from supervisor.budgets import GiB, budget_bytes, ceiling, never_fit_problems
from supervisor.devices import DeviceReading


def config(servers: dict[str, Any], **supervisor: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}, **supervisor},
            "servers": servers,
            "routes": {"agent": list(servers)},
        }
    )


def gpu(index: int, gib: float) -> DeviceReading:
    size = int(gib * GiB)
    return DeviceReading(f"gpu{index}", "gpu", index, "test", size, 0, size)


def test_budget_from_gib_or_fraction_or_none() -> None:
    cfg = config(
        {
            "a": {"model": "m", "gpu_memory_gb": 15.5},
            "b": {"model": "m", "gpu_memory_fraction": 0.25},
            "c": {"model": "m"},
        }
    )
    assert budget_bytes(cfg, "a", 80 * GiB) == int(15.5 * GiB)
    assert budget_bytes(cfg, "b", 80 * GiB) == 20 * GiB
    assert budget_bytes(cfg, "c", 80 * GiB) == 0


def test_ceiling_is_the_limit_or_the_cap_whichever_is_lower() -> None:
    assert ceiling(config({"a": {"model": "m"}}).supervisor, 100 * GiB) == 80 * GiB
    capped = config({"a": {"model": "m"}}, memory_cap_gb=3).supervisor
    assert ceiling(capped, 100 * GiB) == 3 * GiB


def test_budgets_that_can_never_fit_name_their_key() -> None:
    cfg = config(
        {
            "fits": {"model": "m", "gpu_memory_gb": 60},
            "too-big": {"model": "m", "gpu_memory_gb": 70},
            "tp-too-wide": {"model": "m", "gpu_memory_fraction": 0.5, "tensor_parallel_size": 3},
            "unaccounted": {"model": "m"},
        }
    )
    problems = dict(never_fit_problems(cfg, [gpu(0, 80), gpu(1, 80)]))
    assert set(problems) == {
        "servers.too-big.gpu_memory_gb",
        "servers.tp-too-wide.gpu_memory_fraction",
    }


def test_no_devices_no_verdict() -> None:
    assert never_fit_problems(config({"a": {"model": "m", "gpu_memory_gb": 1e6}}), []) == []
