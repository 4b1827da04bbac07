"""The one schema of servers.yaml, validated strictly and once.

Building a `Config` has no side effects; `load_config` is the separate step that reads a file.
Every problem is reported with its file and key path (``routes.agent[1]``), all at once, so an
operator fixes a broken file in one pass rather than one error per restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from supervisor.errors import ConfigError

# Placeholders a command template may use; the supervisor fills them at launch.
PLACEHOLDERS = frozenset(
    {
        "tensor_parallel_size",
        "model",
        "served_name",
        "name",
        "host",
        "port",
        "engine_python",
        "models_dir",
        "gpu_memory_utilization",
    }
)
# Placeholders a model path may use (it is filled before the command is).
MODEL_PLACEHOLDERS = frozenset({"models_dir"})
# `{identifier}` only: JSON arguments such as --limit-mm-per-prompt '{"image": 8}' stay literal.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Capability = Literal["text", "image", "audio_in", "audio_out", "video", "tools", "embeddings"]
Tier = Literal["hot", "warm", "cold"]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerDefaults(_Strict):
    command: list[str] | None = None
    env: dict[str, str] = {}
    health_path: str = "/health"
    startup_timeout: Seconds = 600.0
    stop_grace: Seconds = 15.0
    idle_ttl: Seconds | None = 900.0


class HealthSettings(_Strict):
    """supervisord's startretries/backoff, for servers that were ready and then went bad."""

    interval: Seconds = 5.0
    failures: Annotated[int, Field(ge=1)] = 3
    max_restarts: Annotated[int, Field(ge=0)] = 5
    backoff_initial: Seconds = 1.0
    backoff_max: Seconds = 60.0


class SupervisorSettings(_Strict):
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


class ProxySettings(_Strict):
    host: str = "127.0.0.1"
    port: Port = 4000
    supervisor_url: str | None = None
    default_route: str = "agent"
    connect_timeout: Seconds = 5.0
    request_timeout: Seconds = 600.0
    api_keys: list[str] = []


class ServerSpec(_Strict):
    model: str
    served_name: Name | None = None
    description: str = ""
    command: list[str] | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    health_path: str | None = None
    startup_timeout: Seconds | None = None
    stop_grace: Seconds | None = None
    tier: Tier = "cold"
    idle_ttl: Seconds | None = None
    gpu_memory_gb: Annotated[float, Field(gt=0)] | None = None
    gpu_memory_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    tensor_parallel_size: Annotated[int, Field(ge=1)] = 1
    capabilities: list[Capability] = ["text"]
    max_model_len: Annotated[int, Field(gt=0)] | None = None


class Config(_Strict):
    supervisor: SupervisorSettings = SupervisorSettings()
    proxy: ProxySettings = ProxySettings()
    servers: dict[Name, ServerSpec]
    routes: dict[Name, Annotated[list[str], Field(min_length=1)]] = {}
    aliases: dict[Name, str] = {}

    def idle_ttl(self, server: str) -> float | None:
        spec = self.servers[server]
        return spec.idle_ttl if spec.idle_ttl is not None else self.supervisor.defaults.idle_ttl

    def served_name(self, server: str) -> str:
        return self.servers[server].served_name or server

    def supervisor_url(self) -> str:
        if self.proxy.supervisor_url:
            return self.proxy.supervisor_url.rstrip("/")
        return f"http://{self.supervisor.host}:{self.supervisor.port}"


def load_config(path: str | Path) -> Config:
    """Read and validate one servers.yaml; raise ConfigError naming the file and key paths."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read file: {exc.strerror}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [("", f"not valid YAML: {exc}")]) from exc
    return parse_config(data, source)


def parse_config(data: Any, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "top level must be a mapping with a 'servers' section")])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, [(_key_path(e["loc"]), e["msg"]) for e in exc.errors()]) from exc
    problems = cross_reference_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def cross_reference_problems(config: Config) -> list[tuple[str, str]]:
    """What the per-field schema cannot see: names that point nowhere, or point two ways."""
    problems: list[tuple[str, str]] = []
    servers, routes, aliases = config.servers, config.routes, config.aliases
    for route, candidates in routes.items():
        for i, server in enumerate(candidates):
            if server not in servers:
                problems.append((f"routes.{route}[{i}]", f"unknown server {server!r}"))
    for alias, target in aliases.items():
        if target not in servers and target not in routes:
            problems.append((f"aliases.{alias}", f"{target!r} is neither a server nor a route"))
    problems += _name_clashes(config)
    if config.proxy.default_route not in routes:
        problems.append(("proxy.default_route", f"unknown route {config.proxy.default_route!r}"))
    default_command = config.supervisor.defaults.command
    for name, spec in servers.items():
        if spec.gpu_memory_gb is not None and spec.gpu_memory_fraction is not None:
            problems.append(
                (
                    f"servers.{name}.gpu_memory_fraction",
                    "set gpu_memory_gb or the fraction, not both",
                )
            )
        command = spec.command or default_command
        if not command:
            problems.append(
                (
                    f"servers.{name}.command",
                    "no command, and supervisor.defaults.command is not set",
                )
            )
            continue
        where = "command" if spec.command else "(supervisor.defaults.command)"
        for i, arg in enumerate([*command, *spec.args]):
            part = f"{where}[{i}]" if i < len(command) else f"args[{i - len(command)}]"
            problems += _placeholder_problems(f"servers.{name}.{part}", arg, PLACEHOLDERS)
        problems += _placeholder_problems(f"servers.{name}.model", spec.model, MODEL_PLACEHOLDERS)
    return problems


def _name_clashes(config: Config) -> list[tuple[str, str]]:
    """A client's `model` must mean one thing: a name may be a server, a route or an alias."""
    problems = []
    for alias in config.aliases:
        if alias in config.servers or alias in config.routes:
            problems.append((f"aliases.{alias}", "name is already a server or a route"))
    for route in config.routes:
        if route in config.servers:
            problems.append((f"routes.{route}", "name is already a server"))
    return problems


def _placeholder_problems(
    path: str, template: str, allowed: frozenset[str]
) -> list[tuple[str, str]]:
    return [
        (path, f"unknown placeholder {{{name}}}; known: {', '.join(sorted(allowed))}")
        for name in PLACEHOLDER.findall(template)
        if name not in allowed
    ]
