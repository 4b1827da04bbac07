"""The `supervisor` section: where the admin API listens, the memory it may plan, how it
launches, watches and restarts servers."""

from __future__ import annotations

from typing import Annotated, Literal

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


class DockerSettings(Strict):
    """The Docker engine that `launcher: docker` servers run on; unused without one."""

    # None: DOCKER_HOST, else the engine's default socket (unix:///var/run/docker.sock).
    host: str | None = None
    # Names this supervisor's containers in their labels: a restarted supervisor adopts or
    # removes containers of its own instance only. None: derived from the state directory.
    instance: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    # Any one call to the engine (create, stop, inspect): past it the engine counts as down.
    api_timeout: Seconds = 60.0
    # Variables of the supervisor's environment every container gets (a trailing `*` is a
    # prefix), under its own `env`: secrets such as a hub token stay out of servers.yaml. A
    # container gets nothing else of the host's (its image sets PATH, HOME and the rest).
    env_passthrough: list[str] = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"]


class SchedulerSettings(Strict):
    """When a model that does not fit is loaded (supervisor/scheduling.py).

    `modelyard`: loads wait until serving them is worth the switch, a resident with work is
    kept for `min_residency` seconds, deadlines (a request's max wait) override both, and a
    busy evictee drains first. `arrival`: what other systems do, kept for comparison (`make
    bench`): a load evicts idle servers at once and waits while every victim is busy.
    """

    policy: Literal["modelyard", "arrival"] = "modelyard"
    min_residency: Annotated[float, Field(ge=0)] = 30.0
    # Seconds of switch cost one request-second of waiting is worth (scheduling.value).
    age_weight: Annotated[float, Field(gt=0)] = 2.0
    deadline_slack: Annotated[float, Field(ge=0)] = 1.0
    # An evictee with requests in flight gets this long to finish them before it goes anyway.
    drain_timeout: Seconds = 30.0
    # Seconds one request holds a slot, until the engine's own latency says better.
    service_s: Seconds = 1.0


class SleepSettings(Strict):
    """Sleep levels for warm servers: level 1 keeps the weights in host RAM (fast wake),
    level 2 drops them (the wake reloads them from disk), then the process is stopped."""

    # An asleep (level 1) server idle this long is demoted to level 2; None: never.
    level2_after: Seconds | None = 600.0
    # A level-2 server idle this long (since it was last used) is stopped; None: never.
    stop_after: Seconds | None = 3600.0
    # Host RAM the level-1 sleepers' weights may take together; past it the least recently
    # used is demoted. None: no limit beyond the idle times.
    host_budget_gb: Annotated[float, Field(gt=0)] | None = None
    # After a sleep, the devices must show at least this share of the server's budget freed
    # (NVML), or the server is treated as awake (and stopped to free it).
    freed_share: Annotated[float, Field(ge=0, le=1)] = 0.5


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
    # The admin API can start and stop processes: on any address but loopback it refuses to
    # start without a token; with one, every call must carry it (Bearer) and a Host header
    # naming this API, so a web page in a browser on the box cannot reach it.
    admin_token: str | None = None
    admin_token_env: str = "MODELYARD_ADMIN_TOKEN"
    admin_allowed_hosts: list[str] = []  # beyond loopback names and `host` itself
    # Leave the model servers running when the supervisor exits, for the next one to adopt.
    keep_servers: bool = False
    # Per-server logs: rotated (copy, then truncate) past this size, with this many old copies.
    log_max_bytes: Annotated[int, Field(ge=64 * 1024)] = 64 * 2**20
    log_backups: Annotated[int, Field(ge=0, le=20)] = 2
    # Environment a server process gets from the supervisor's: these names (a trailing `*`
    # is a prefix) on top of the built-in list (PATH, HOME, locale, CUDA/NVIDIA, HF, VLLM...);
    # its own `env` always.
    env_passthrough: list[str] = []
    docker: DockerSettings = DockerSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    sleep: SleepSettings = SleepSettings()

    @field_validator("port_range")
    @classmethod
    def _range_ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError("the first port must not exceed the last")
        return value
