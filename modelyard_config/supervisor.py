"""The `supervisor` section: where the admin API listens, the memory it may plan, how it
launches, watches and restarts servers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from modelyard_config.fields import Port, Seconds, Strict


class ServerDefaults(Strict):
    command: list[str] | None = None
    env: dict[str, str] = {}
    health_path: str = "/health"
    startup_timeout: Seconds = 600.0
    stop_grace: Seconds = 15.0
    idle_ttl: Seconds | None = 900.0


class HealthSettings(Strict):
    """supervisord's startretries/backoff, for servers that were ready and then went bad."""

    interval: Seconds = 5.0
    failures: Annotated[int, Field(ge=1)] = 3
    max_restarts: Annotated[int, Field(ge=0)] = 5
    backoff_initial: Seconds = 1.0
    backoff_max: Seconds = 60.0


class SupervisorSettings(Strict):
    host: str = "127.0.0.1"
    port: Port = 4100
    port_range: tuple[Port, Port] = (8100, 8199)
    state_dir: str | None = None
    engine_python: str | None = None
    models_dir: str | None = None
    gpu_memory_limit: Annotated[float, Field(gt=0, le=1)] = 0.80
    memory_cap_gb: Annotated[float, Field(gt=0)] | None = None
    # Plan as if GPUs of these sizes (GiB) were present, without NVML: dry runs and tests.
    simulate_gpus_gb: list[Annotated[float, Field(gt=0)]] | None = None
    queue_timeout: Seconds = 120.0
    health: HealthSettings = HealthSettings()
    defaults: ServerDefaults = ServerDefaults()

    @field_validator("port_range")
    @classmethod
    def _range_ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError("the first port must not exceed the last")
        return value
