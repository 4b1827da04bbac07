"""A LiteLLM proxy `config.yaml` as a modelyard `servers.yaml` (`modelyard import-litellm`).

Pure: the parsed LiteLLM config in; the servers.yaml mapping and the notes (what was not
carried over, what to review) out. It reads no file, and the environment only when handed
one (`--resolve-env`). The rules, each in its own module:

- litellm_deployments: one `model_list` entry -> one local (vLLM) or remote (LiteLLM) server
- litellm_fallbacks: `fallbacks` -> the chain LiteLLM would walk
- litellm_names: `model_name` -> the server, group, route or alias clients name
- litellm_settings: the settings sections -> the `proxy` section, and notes for the rest
- litellm_values: environment references and secrets, which never reach the output as written
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from modelyard import litellm_fallbacks, litellm_names, litellm_settings
from modelyard.litellm_deployments import server_spec, skip_reason
from modelyard.litellm_values import Note, Notes, Values

# The GPU box's vLLM command, as servers.yaml at the repo root has it (a test keeps them equal).
VLLM_COMMAND = [
    "vllm",
    "serve",
    "{model}",
    "--served-model-name",
    "{served_name}",
    "--host",
    "{host}",
    "--port",
    "{port}",
    "--gpu-memory-utilization",
    "{gpu_memory_utilization}",
]
# The classifier's default intent: `model: auto` needs a route of this name.
AGENT = "agent"

Problems = list[tuple[str, str]]


class LiteLLMConfigError(Exception):
    """The input is not a LiteLLM config this import can read: (key path, message) pairs."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        super().__init__(
            "; ".join(f"{path}: {message}" if path else message for path, message in problems)
        )


@dataclass(frozen=True)
class Imported:
    config: dict[str, Any]
    notes: list[Note]

    def of_kind(self, kind: str) -> list[Note]:
        return [note for note in self.notes if note.kind == kind]


def convert(
    data: Any, remote_only: bool = False, environ: Mapping[str, str] | None = None
) -> Imported:
    problems = structure_problems(data)
    if problems:
        raise LiteLLMConfigError(problems)
    notes = Notes()
    values = Values(notes, environ)
    entries: list[dict[str, Any]] = data["model_list"]
    deployments: dict[str, list[int]] = {}
    skipped: dict[str, str] = {}
    for i, entry in enumerate(entries):
        reason = skip_reason(entry, remote_only)
        if reason is None:
            deployments.setdefault(entry["model_name"], []).append(i)
        else:
            notes.dropped(f"model_list[{i}]", reason)
            skipped.setdefault(entry["model_name"], f"model_list[{i}]")
    if not deployments:
        raise LiteLLMConfigError([("model_list", "no entry here is one modelyard can serve")])
    chains = _chains(data, deployments, skipped, values)
    if AGENT in deployments:  # the client's own `agent` is the route `model: auto` takes
        chains.setdefault(AGENT, [AGENT])
    reserved = set() if AGENT in deployments else {AGENT}
    names = litellm_names.layout(deployments, chains, reserved, notes)
    servers = {
        names.servers[i]: server_spec(i, entries[i], names.servers[i], remote_only, values)
        for i in sorted(names.servers)
    }
    if AGENT not in names.routes:
        names.routes[AGENT] = _auto_route(deployments, chains, names, servers, notes)
    _group_aliases(data, deployments, names, notes)
    config: dict[str, Any] = {}
    if any("remote" not in spec for spec in servers.values()):
        config["supervisor"] = {"defaults": {"command": list(VLLM_COMMAND)}}
    proxy = litellm_settings.proxy_section(data, values)
    if proxy:
        config["proxy"] = proxy
    config["servers"] = servers
    for key, section in (("groups", names.groups), ("aliases", names.aliases)):
        if section:
            config[key] = section
    config["routes"] = names.routes
    return Imported(config, sorted(notes.items, key=_source_order))


def _source_order(note: Note) -> tuple[int, int]:
    """model_list's notes first, entry by entry, then the sections' (a stable sort keeps
    the order each was found in)."""
    match = re.match(r"model_list\[(\d+)\]", note.path)
    return (0, int(match.group(1))) if match else (1, 0)


def _chains(
    data: dict[str, Any],
    deployments: dict[str, list[int]],
    skipped: dict[str, str],
    values: Values,
) -> dict[str, list[str]]:
    notes = values.notes
    picked = litellm_settings.pick(data, "fallbacks", notes)
    default = litellm_settings.pick(data, "default_fallbacks", notes)
    carried = set(deployments)
    path, fallbacks = picked if picked else ("fallbacks", [])
    table = litellm_fallbacks.read_table(path, fallbacks, default, carried, skipped, notes)
    limit = litellm_fallbacks.DEFAULT_MAX_FALLBACKS
    set_limit = litellm_settings.pick(data, "max_fallbacks", notes)
    if set_limit is not None:
        ok, value = values.plain(set_limit[0], set_limit[1], "LiteLLM's default of 5 is used")
        if ok and isinstance(value, int | str) and str(value).isdigit():
            limit = int(value)
        elif ok:
            notes.dropped(set_limit[0], f"{value!r} is not a count: LiteLLM's 5 is used")
    return litellm_fallbacks.chains(table, list(deployments), limit)


def _auto_route(
    deployments: dict[str, list[int]],
    chains: dict[str, list[str]],
    names: litellm_names.Layout,
    servers: dict[str, dict[str, Any]],
    notes: Notes,
) -> list[str]:
    """`model: auto` (the classifier's default intent) goes where the first chat model's
    name goes: LiteLLM has no such name, so any choice is the import's, and noted."""
    first = next(
        (
            name
            for name, indices in deployments.items()
            if "text" in servers[names.servers[indices[0]]]["capabilities"]
        ),
        next(iter(deployments)),
    )
    notes.review(
        f"routes.{AGENT}",
        f"`model: auto` (modelyard's classifier, intent {AGENT}) takes the chain of {first!r}, "
        "the first chat model: LiteLLM has no such name, so choose as you like",
    )
    return [names.backend[name] for name in chains.get(first, [first])]


def _group_aliases(
    data: dict[str, Any],
    deployments: dict[str, list[int]],
    names: litellm_names.Layout,
    notes: Notes,
) -> None:
    """router_settings.model_group_alias: another name for a model_name, as an alias."""
    picked = litellm_settings.pick(data, "model_group_alias", notes)
    if picked is None:
        return
    path, aliases = picked
    taken = {*names.servers.values(), *names.groups, *names.routes, *names.aliases}
    for alias, target in aliases.items():
        model_name = target.get("model") if isinstance(target, dict) else target
        where = f"{path}.{alias}"
        if not isinstance(model_name, str) or model_name not in deployments:
            notes.dropped(where, f"{model_name!r} is not a model_name carried over")
        elif not litellm_names.NAME.match(str(alias)) or alias in taken:
            notes.dropped(where, "not a free name modelyard routes (letters, digits and ._:/-)")
        else:
            names.aliases[str(alias)] = names.target[model_name]
            taken.add(str(alias))
            for key in target if isinstance(target, dict) else ():
                if key != "model":
                    notes.dropped(f"{where}.{key}", "an alias has no such setting in modelyard")


def structure_problems(data: Any) -> Problems:
    """What makes `data` no LiteLLM config this import can read, each with its key path."""
    if not isinstance(data, dict):
        return [("", "a LiteLLM config is a mapping with a model_list")]
    entries = data.get("model_list")
    if entries is None:
        return [("model_list", "missing: a LiteLLM config lists its models under model_list")]
    if not isinstance(entries, list) or not entries:
        return [("model_list", "expected a list of {model_name, litellm_params: {model}}")]
    problems: Problems = []
    for i, entry in enumerate(entries):
        problems += _entry_problems(f"model_list[{i}]", entry)
    for section in litellm_settings.SECTIONS:
        settings = data.get(section)
        if settings is None:
            continue
        if not isinstance(settings, dict):
            problems.append((section, "expected a mapping"))
            continue
        if settings.get("fallbacks") is not None:
            problems += litellm_fallbacks.shape_problems(
                f"{section}.fallbacks", settings["fallbacks"]
            )
        default = settings.get("default_fallbacks")
        if default is not None and not isinstance(default, list):
            problems.append((f"{section}.default_fallbacks", "expected a list of model_names"))
    aliases = (data.get("router_settings") or {}).get("model_group_alias")
    if aliases is not None and not isinstance(aliases, dict):
        problems.append(("router_settings.model_group_alias", "expected a mapping"))
    return problems


def _entry_problems(where: str, entry: Any) -> Problems:
    if not isinstance(entry, dict):
        return [(where, "expected a mapping with model_name and litellm_params")]
    problems: Problems = []
    name = entry.get("model_name")
    if not isinstance(name, str) or not name:
        problems.append((f"{where}.model_name", "missing: the name clients send as `model`"))
    params = entry.get("litellm_params")
    if not isinstance(params, dict):
        problems.append((f"{where}.litellm_params", "missing: a mapping with `model`"))
    elif not isinstance(params.get("model"), str) or not params["model"]:
        problems.append((f"{where}.litellm_params.model", "missing: LiteLLM's provider/model"))
    info = entry.get("model_info")
    if info is not None and not isinstance(info, dict):
        problems.append((f"{where}.model_info", "expected a mapping"))
    return problems


def render(imported: Imported, source: str) -> str:
    """servers.yaml's text: a header saying where it came from and what it left out, then
    the config."""
    lines = [
        f"# Imported by `modelyard import-litellm` from LiteLLM's {source}.",
        "# Validate it with `modelyard check <this file>`; `modelyard schema` prints the schema.",
    ]
    for kind, title in (("dropped", "Not carried over"), ("review", "To review")):
        notes = imported.of_kind(kind)
        if notes:
            lines += ["#", f"# {title} ({len(notes)}):"]
            lines += [f"#   {note.path}: {note.message}" for note in notes]
    body = yaml.dump(
        imported.config, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return "\n".join(lines) + "\n\n" + body


class _Dumper(yaml.SafeDumper):
    """Lists of plain values on one line (`capabilities: [text, image]`), as servers.yaml
    at the repo root writes them."""


def _list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    flow = all(not isinstance(item, dict | list) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_Dumper.add_representer(list, _list)
