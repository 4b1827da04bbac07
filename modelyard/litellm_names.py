"""Names: the `model` each LiteLLM client sends keeps working against modelyard.

A LiteLLM `model_name` is what clients send. In servers.yaml that name becomes exactly one
thing a client can name, chosen in this order:

- a route, when the model_name has fallbacks (the chain LiteLLM would walk);
- a group, when several deployments share the model_name (LiteLLM's load balancing);
- the server itself, when the model_name is a valid server name;
- else an alias of the server (a server name has no `/`: `openai/gpt-4o` is an alias of
  server `openai-gpt-4o`).

Servers are named after their model_name made a valid server name, numbered (`-1`, `-2`)
when several share it or the plain name is taken; a group a route names is `<name>-group`.
A model_name modelyard cannot route at all (a space, say) is replaced by a cleaned name,
and noted. One namespace holds servers, routes, groups and aliases, so no two collide.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, count

from modelyard.litellm_values import Notes

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")  # modelyard_config.fields.Name
SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")  # ...fields.ServerName


@dataclass
class Layout:
    servers: dict[int, str] = field(default_factory=dict)  # model_list index -> server
    groups: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    routes: dict[str, list[str]] = field(default_factory=dict)
    client: dict[str, str] = field(default_factory=dict)  # model_name -> what clients send
    # model_name -> the server, group or route its client name stands for
    target: dict[str, str] = field(default_factory=dict)
    backend: dict[str, str] = field(default_factory=dict)  # model_name -> server or group


def clean(name: str, pattern: re.Pattern[str]) -> str:
    """`name` with every character `pattern` refuses replaced by `-`."""
    allowed = "A-Za-z0-9._:/-" if pattern is NAME else "A-Za-z0-9._:-"
    cleaned = re.sub(f"[^{allowed}]+", "-", name)
    cleaned = re.sub(r"^[^A-Za-z0-9]+", "", cleaned).rstrip("-")
    return cleaned or "model"


class _Taken:
    def __init__(self, names: Iterable[str]) -> None:
        self.names = set(names)

    def claim(self, candidates: Iterable[str]) -> str:
        for candidate in candidates:
            if candidate not in self.names:
                self.names.add(candidate)
                return candidate
        raise AssertionError("candidates are endless")


def _numbered(base: str, start: int = 1) -> Iterator[str]:
    return (f"{base}-{n}" for n in count(start))


def layout(
    deployments: dict[str, list[int]],
    chains: dict[str, list[str]],
    reserved: set[str],
    notes: Notes,
) -> Layout:
    """Names for every deployment, in model_list order; `reserved` names are left free."""
    out = Layout()
    valid = [m for m in deployments if NAME.match(m)]
    taken = _Taken([*valid, *reserved])
    for model_name, indices in deployments.items():
        if model_name in valid and model_name not in reserved:
            out.client[model_name] = model_name
            continue
        base = clean(model_name, NAME)
        out.client[model_name] = taken.claim(chain([base], _numbered(base, 2)))
        notes.review(
            f"model_list[{indices[0]}].model_name",
            f"{model_name!r} is not a name modelyard routes (letters, digits and ._:/-, or it "
            f"is taken): clients send {out.client[model_name]!r} instead",
        )
    for model_name, indices in deployments.items():
        _name_one(out, taken, model_name, indices, routed=model_name in chains)
    for model_name, tried in chains.items():
        out.routes[out.client[model_name]] = [out.backend[m] for m in tried]
    return out


def _name_one(
    out: Layout, taken: _Taken, model_name: str, indices: list[int], routed: bool
) -> None:
    client = out.client[model_name]
    base = clean(client, SERVER_NAME)
    if len(indices) > 1:
        members = [taken.claim(_numbered(base)) for _ in indices]
        out.servers.update(zip(indices, members, strict=True))
        group = (
            taken.claim(chain([f"{base}-group"], _numbered(f"{base}-group", 2)))
            if routed
            else client
        )
        out.groups[group] = members
        out.backend[model_name] = group
    elif not routed and SERVER_NAME.match(client):
        out.servers[indices[0]] = client
        out.backend[model_name] = client
    else:
        server = taken.claim(chain([base], _numbered(base)))
        out.servers[indices[0]] = server
        out.backend[model_name] = server
        if not routed:
            out.aliases[client] = server
    out.target[model_name] = client if routed or client in out.groups else out.backend[model_name]
