"""What the per-field schema cannot see: names that point nowhere, or point two ways
(problems: the config is refused), and settings that work but not as meant (warnings).

Pure: a validated `Config` in, (key path, message) pairs out.
"""

from __future__ import annotations

from pathlib import PurePath

from modelyard_config import placeholders
from modelyard_config.endpoints import NEEDS, REMOTE_CALLS
from modelyard_config.placeholders import MODEL_PLACEHOLDERS, PLACEHOLDERS
from modelyard_config.schema import Config
from modelyard_config.servers import ServerSpec

Problems = list[tuple[str, str]]


def cross_reference_problems(config: Config) -> Problems:
    problems: Problems = []
    servers, routes, aliases = config.servers, config.routes, config.aliases
    for route, candidates in routes.items():
        for i, server in enumerate(candidates):
            if server not in servers and server not in config.groups:
                problems.append((f"routes.{route}[{i}]", f"unknown server {server!r}"))
        problems += _twice_in_chain(config, route)
    for alias, target in aliases.items():
        if target not in servers and target not in routes and target not in config.groups:
            problems.append((f"aliases.{alias}", f"{target!r} is neither a server nor a route"))
    problems += _group_problems(config)
    problems += _name_clashes(config)
    problems += _classifier_problems(config)
    for route in config.proxy.route_retry:
        if route not in routes:
            problems.append((f"proxy.route_retry.{route}", f"unknown route {route!r}"))
    for route in config.proxy.route_max_wait:
        if route not in routes:
            problems.append((f"proxy.route_max_wait.{route}", f"unknown route {route!r}"))
    problems += _degrade_problems(config)
    problems += _server_problems(config)
    problems += _variant_problems(config)
    return problems


def _variant_problems(config: Config) -> Problems:
    """A variant is another server, of no variants of its own and of one full model, that
    answers to the full model's name."""
    problems: Problems = []
    owner: dict[str, str] = {}
    for name, spec in config.servers.items():
        for i, variant in enumerate(spec.variants):
            where = f"servers.{name}.variants[{i}]"
            other = config.servers.get(variant)
            if other is None:
                problems.append((where, f"unknown server {variant!r}"))
                continue
            if variant == name:
                problems.append((where, "a server is not a variant of itself"))
                continue
            if other.remote is not None:
                problems.append((where, f"{variant!r} is remote: the supervisor cannot place it"))
                continue
            if other.variants:
                problems.append((where, f"{variant!r} has variants of its own"))
            if variant in owner and owner[variant] != name:
                problems.append((where, f"{variant!r} is already a variant of {owner[variant]!r}"))
            owner[variant] = name
            full, small = config.served_name(name), config.served_name(variant)
            if small != full:
                problems.append(
                    (
                        where,
                        f"{variant!r} serves {small!r}, not {full!r}: a variant must answer to "
                        f"the full model's name (set its served_name: {full})",
                    )
                )
    return problems


def _server_problems(config: Config) -> Problems:
    problems: Problems = []
    default_command = config.supervisor.defaults.command
    for name, spec in config.servers.items():
        if spec.remote is not None:
            problems += _remote_problems(name, spec)
            continue
        if spec.gpu_memory_gb is not None and spec.gpu_memory_fraction is not None:
            problems.append(
                (
                    f"servers.{name}.gpu_memory_fraction",
                    "set gpu_memory_gb or the fraction, not both",
                )
            )
        if spec.launcher == "docker":
            problems += _container_problems(name, spec)
            continue
        if spec.container is not None:
            problems.append((f"servers.{name}.container", "only for `launcher: docker` servers"))
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
            problems += placeholders.unknown(f"servers.{name}.{part}", arg, PLACEHOLDERS)
        for key, value in {**config.supervisor.defaults.env, **spec.env}.items():
            problems += placeholders.unknown(f"servers.{name}.env.{key}", value, PLACEHOLDERS)
        problems += placeholders.unknown(f"servers.{name}.model", spec.model, MODEL_PLACEHOLDERS)
    return problems


# What only a server the supervisor runs has: on a remote one it would be silently ignored.
_LOCAL_ONLY = (
    "launcher",
    "container",
    "command",
    "args",
    "env",
    "health_path",
    "startup_timeout",
    "stop_grace",
    "tier",
    "idle_ttl",
    "gpu_memory_gb",
    "gpu_memory_fraction",
    "weights_gb",
    "tensor_parallel_size",
    "max_model_len",
    "switch_costs",
    "variants",
)


def _remote_problems(name: str, spec: ServerSpec) -> Problems:
    problems = [
        (f"servers.{name}.{key}", "not for a remote server: the supervisor never runs it")
        for key in _LOCAL_ONLY
        if key in spec.model_fields_set
    ]
    for i, capability in enumerate(spec.capabilities):
        served = [e for e, needs in NEEDS.items() if capability in needs]
        if served and not any(e in REMOTE_CALLS for e in served):
            problems.append(
                (
                    f"servers.{name}.capabilities[{i}]",
                    f"a remote server cannot serve {capability!r}: modelyard calls no LiteLLM "
                    f"function for {', '.join(served)}",
                )
            )
    return problems


def _container_problems(name: str, spec: ServerSpec) -> Problems:
    """A container server: its image is required; its command (the image entrypoint's
    arguments, never supervisor.defaults.command) may be empty; volumes are source:target."""
    where = f"servers.{name}"
    if spec.container is None:
        return [(f"{where}.container", "`launcher: docker` needs a container section (image)")]
    problems: Problems = []
    container = spec.container
    for i, arg in enumerate([*(spec.command or []), *spec.args]):
        n = len(spec.command or [])
        part = f"command[{i}]" if i < n else f"args[{i - n}]"
        problems += placeholders.unknown(f"{where}.{part}", arg, PLACEHOLDERS)
    for key, value in spec.env.items():
        problems += placeholders.unknown(f"{where}.env.{key}", value, PLACEHOLDERS)
    for i, arg in enumerate(container.entrypoint or []):
        problems += placeholders.unknown(f"{where}.container.entrypoint[{i}]", arg, PLACEHOLDERS)
    for i, volume in enumerate(container.volumes):
        path = f"{where}.container.volumes[{i}]"
        problems += placeholders.unknown(path, volume, PLACEHOLDERS)
        parts = volume.split(":")
        if len(parts) not in (2, 3) or not all(parts[:2]):
            problems.append((path, "expected source:target or source:target:ro|rw"))
        elif not parts[1].startswith("/"):
            problems.append((path, f"the target {parts[1]!r} must be an absolute path"))
        elif len(parts) == 3 and parts[2] not in ("ro", "rw"):
            problems.append((path, f"mode {parts[2]!r}: expected ro or rw"))
    problems += placeholders.unknown(f"{where}.model", spec.model, MODEL_PLACEHOLDERS)
    return problems


def _group_problems(config: Config) -> Problems:
    """A group's members are servers, each once: a group of groups would make its balancing
    two policies deep, and a member listed twice would take two turns."""
    problems: Problems = []
    for group, members in config.groups.items():
        for i, member in enumerate(members):
            where = f"groups.{group}[{i}]"
            if member in config.groups:
                problems.append((where, f"{member!r} is a group: a group's members are servers"))
            elif member not in config.servers:
                problems.append((where, f"unknown server {member!r}"))
            elif member in members[:i]:
                problems.append((where, f"{member!r} is already a member"))
        for taken, kind in (
            (config.servers, "a server"),
            (config.routes, "a route"),
            (config.aliases, "an alias"),
            (config.classifier.intents, "an intent"),
        ):
            if group in taken:
                problems.append((f"groups.{group}", f"name is already {kind}"))
    return problems


def _twice_in_chain(config: Config, route: str) -> Problems:
    """A server reached twice in one chain through a group: it would be tried twice, and the
    group's balancing would be undone by the second place."""
    problems: Problems = []
    chain = config.routes[route]
    seen: dict[str, int] = {}  # server -> the index of the entry that put it in the chain
    for i, entry in enumerate(chain):
        for server in config.members(entry):
            first = seen.setdefault(server, i)
            if first != i and (entry in config.groups or chain[first] in config.groups):
                through = chain[first] if chain[first] in config.groups else entry
                problems.append(
                    (
                        f"routes.{route}[{i}]",
                        f"{server!r} is already in this chain (group {through!r} holds it)",
                    )
                )
                break
    return problems


def _name_clashes(config: Config) -> Problems:
    """One namespace for `model` routing: a name may be a server, a route, a group or an
    alias (a group's clashes: _group_problems)."""
    problems = []
    for alias in config.aliases:
        if alias in config.servers or alias in config.routes:
            problems.append((f"aliases.{alias}", "name is already a server or a route"))
    for route in config.routes:
        if route in config.servers:
            problems.append((f"routes.{route}", "name is already a server"))
    return problems


def _classifier_problems(config: Config) -> Problems:
    settings = config.classifier
    problems = []
    for intent, spec in settings.intents.items():
        route = spec.route_name(intent)
        if route not in config.routes:
            problems.append(
                (
                    f"classifier.intents.{intent}.route",
                    f"unknown route {route!r}: add routes.{route} or set this intent's route",
                )
            )
        if intent in config.servers:
            problems.append((f"classifier.intents.{intent}", "name is already a server"))
        if intent in config.routes and route != intent:
            problems.append(
                (
                    f"classifier.intents.{intent}",
                    f"name is already a route, but the intent's route is {route!r}",
                )
            )
        if intent in config.aliases:
            problems.append((f"classifier.intents.{intent}", "name is already an alias"))
    if settings.default not in settings.intents:
        problems.append(("classifier.default", f"unknown intent {settings.default!r}"))
    if settings.triage is not None and settings.triage not in config.servers:
        problems.append(("classifier.triage", f"unknown server {settings.triage!r}"))
    if settings.embedder == "sentence-transformers" and not settings.embedder_model:
        problems.append(
            ("classifier.embedder_model", "sentence-transformers needs a local model path")
        )
    return problems


def _degrade_problems(config: Config) -> Problems:
    problems = []
    for kind, declared in config.proxy.degrade:
        if declared is None:
            continue
        for key, value in declared:
            if key.endswith("_with") and value not in config.routes:
                problems.append((f"proxy.degrade.{kind}.{key}", f"unknown route {value!r}"))
    return problems


SLEEP_FLAG = "--enable-sleep-mode"
# vLLM serves /sleep, /wake_up and /is_sleeping only in its dev mode, and sleeps only with
# the flag: a warm server without both is stopped when evicted, and loads cold again.
SLEEP_ENV = ("VLLM_SERVER_DEV_MODE", "1")


def warnings(config: Config) -> Problems:
    """Settings that load but will not do what they say; `modelyard check` and `up` print
    them, and start anyway."""
    found: Problems = []
    defaults = config.supervisor.defaults
    for name, spec in config.servers.items():
        argv = [*(spec.command or defaults.command or []), *spec.args]
        if spec.tier != "warm" or not runs_vllm(argv):
            continue
        env = {**defaults.env, **spec.env}
        missing = []
        if not any(a == SLEEP_FLAG or a.startswith(f"{SLEEP_FLAG}=") for a in argv):
            missing.append(f"its command has no {SLEEP_FLAG}")
        if env.get(SLEEP_ENV[0]) != SLEEP_ENV[1]:
            missing.append(f"env {SLEEP_ENV[0]}={SLEEP_ENV[1]} is missing")
        if missing:
            found.append(
                (
                    f"servers.{name}",
                    f"tier warm but {' and '.join(missing)}: it will be stopped, not put to sleep",
                )
            )
    return found + _endpoint_warnings(config)


def _endpoint_warnings(config: Config) -> Problems:
    """A server on an intent's route that can serve none of what that intent is sent (embed:
    /v1/embeddings needs `embedding`; an intent a chat may be also takes `text` servers):
    every such request skips it, and with none left, is a 400."""
    found: Problems = []
    for intent, spec in config.classifier.intents.items():
        route = spec.route_name(intent)
        wanted = [NEEDS.get(endpoint, ()) for endpoint in spec.endpoints]
        if {"text", "audio", "video"} & set(spec.outputs):
            wanted.append(("text",))
        for server in config.route_servers(route):
            caps = set(config.servers[server].capabilities) if server in config.servers else set()
            if wanted and not any(set(needs) <= caps for needs in wanted):
                lacking = " or ".join("+".join(needs) for needs in wanted)
                found.append(
                    (
                        f"routes.{route}",
                        f"{server} lacks {lacking}, so no {intent} request will reach it (add "
                        "the capability, or take it off the route)",
                    )
                )
    return found


def runs_vllm(argv: list[str]) -> bool:
    """`vllm serve ...` (any path to the script) or `python -m vllm.entrypoints...`; not the
    sidecars, which have no sleep mode."""
    if any("vllm.entrypoints" in arg for arg in argv):
        return True
    return "serve" in argv and any(PurePath(arg).name == "vllm" for arg in argv)
