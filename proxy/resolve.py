"""Which servers may answer a request, in order: from its `model` field, its intent and its
inputs. Pure: config and request features in, names and reasons out.

The `model` field:
- `auto`, empty or absent: the classifier picks the intent, and the intent's route is the chain;
- an intent or a route (or an alias of one): that route's chain, no classification;
- a server (or an alias of one): that server first, then the rest of its route's chain;
- a group (or an alias of one): its members first, then the rest of its route's chain.

Where a chain names a group, the group's members take its place, in config order; the plan
keeps where they stand (`Slot`) and proxy/balance.py orders them for each request, since
that order depends on what the proxy knows at the moment (who is ready, busy, fast). A
request that names a member goes to it first, and the rest of its group follows.

Every chain is then filtered by capability: a server that cannot take the request's inputs
(images, audio, video, tools), does not serve the endpoint (an embedding model is never sent a
chat, nor a chat model an embedding: endpoints.NEEDS) or whose context is certainly too short
is skipped, with the reason kept for the client and for `/route`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelyard_config import Config
from modelyard_config.endpoints import GENERATION, NEEDS, TOKEN_BOUNDED
from modelyard_config.servers import ServerSpec
from proxy.classify.features import Features
from proxy.errors import ModelNotFoundError

AUTO = "auto"
Kind = Literal["auto", "intent", "route", "group", "server"]

# A prompt has at least one token per this many characters in every tokenizer we know of
# (English runs ~4; Indian scripts far fewer), so chars // 4 under-counts and never skips a
# server that could take the prompt.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Target:
    """What the `model` field names, aliases followed."""

    requested: str
    kind: Kind
    name: str | None  # the intent, route, group or server; None for auto


@dataclass(frozen=True)
class Slot:
    """A group's members able to take the request, as they stand in a plan's candidates from
    `start` (config order): the span proxy/balance.py reorders per request."""

    group: str
    start: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    requested: str
    intent: str | None
    route: str | None
    candidates: tuple[str, ...]  # servers able to take the request, in order
    skipped: tuple[tuple[str, str], ...] = ()  # (server, why it cannot)
    groups: tuple[Slot, ...] = ()  # spans of candidates to balance; () when the order is final

    @property
    def server(self) -> str:
        return self.candidates[0]


def parse_model(config: Config, requested: str | None) -> Target:
    name = requested or AUTO
    target = config.aliases.get(name, name)
    if target == AUTO:
        return Target(name, "auto", None)
    if target in config.classifier.intents:
        return Target(name, "intent", target)
    if target in config.routes:
        return Target(name, "route", target)
    if target in config.groups:
        return Target(name, "group", target)
    if target in config.servers:
        return Target(name, "server", target)
    raise ModelNotFoundError(
        f"The model {name!r} does not exist. GET /v1/models lists the servers, intents, routes, "
        "groups and aliases this proxy serves.",
        param="model",
    )


def plan(config: Config, target: Target, features: Features, intent: str | None = None) -> Plan:
    """The chain for `target`; `intent` is the classifier's answer when target is auto."""
    first: str | None = None  # a server or group the request named: it stands first
    if target.kind in ("auto", "intent"):
        chosen = intent if target.kind == "auto" else target.name
        assert chosen is not None, "auto needs the classifier's intent"
        route: str | None = config.intent_route(chosen)
        assert route is not None
        chain = tuple(config.routes[route])
    elif target.kind == "route":
        assert target.name is not None
        route, chain = target.name, tuple(config.routes[target.name])
        chosen = intent_of_route(config, route)
    else:
        assert target.name is not None
        first = target.name
        route = route_of(config, first)
        chain = (first, *(e for e in config.routes.get(route or "", ()) if e != first))
        chosen = intent_of_route(config, route) if route else None
    kept, skipped, groups = _filtered(config, chain, features, first)
    return Plan(target.requested, chosen, route, kept, skipped, groups)


def _filtered(
    config: Config, chain: tuple[str, ...], features: Features, first: str | None
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[Slot, ...]]:
    """`chain` with its groups expanded and every server that cannot take the request left
    out (in `skipped`, with why); where each group's members that are left stand."""
    kept: list[str] = []
    skipped: list[tuple[str, str]] = []
    groups: list[Slot] = []
    for entry in chain:
        members = config.groups.get(entry)
        if members is None:
            _admit(config, entry, features, kept, skipped)
            continue
        start = len(kept)
        for server in members:
            if server != first:  # a member asked for by name already stands first
                _admit(config, server, features, kept, skipped)
        if len(kept) - start > 1:
            groups.append(Slot(entry, start, tuple(kept[start:])))
    return tuple(kept), tuple(skipped), tuple(groups)


def _admit(
    config: Config,
    server: str,
    features: Features,
    kept: list[str],
    skipped: list[tuple[str, str]],
) -> None:
    why = unfit(config.servers[server], features)
    if why is None:
        kept.append(server)
    else:
        skipped.append((server, why))


def unfit(spec: ServerSpec, features: Features) -> str | None:
    """Why this server cannot take the request, or None when it can."""
    caps = set(spec.capabilities)
    needs = list(NEEDS.get(features.endpoint, ("text",)))
    if features.endpoint in GENERATION:
        needs += [
            cap
            for cap, wanted in (
                ("image", features.image),
                ("audio_in", features.audio_in),
                ("video", features.video),
                ("audio_out", features.audio_out),
            )
            if wanted
        ]
    if features.tools:
        needs.append("tools")
    missing = [cap for cap in needs if cap not in caps]
    if missing:
        return f"cannot take {', '.join(missing)} (capabilities: {', '.join(spec.capabilities)})"
    if spec.max_model_len is not None:
        asked = features.max_tokens or 0
        # the body this server gets carries its ceiling, if it generates at all
        if spec.max_tokens is not None and features.endpoint in TOKEN_BOUNDED:
            asked = min(asked, spec.max_tokens) if asked else spec.max_tokens
        tokens = features.prompt_chars // CHARS_PER_TOKEN + asked
        if tokens > spec.max_model_len:
            return (
                f"needs at least {tokens} tokens (prompt and max_tokens), more than its "
                f"max_model_len of {spec.max_model_len}"
            )
    return None


def route_of(config: Config, name: str) -> str | None:
    """The first route that names `name` (a server or a group), or holds it in a group."""
    for route, chain in config.routes.items():
        if name in chain or (config.groups and name in config.route_servers(route)):
            return route
    return None


def intent_of_route(config: Config, route: str) -> str | None:
    return next(
        (
            name
            for name, spec in config.classifier.intents.items()
            if spec.route_name(name) == route
        ),
        None,
    )


def model_ids(config: Config) -> list[tuple[str, str]]:
    """Every name a client may send as `model`, with what kind of name it is."""
    intents = [n for n in config.classifier.intents if n not in config.routes]
    return (
        [(AUTO, "auto")]
        + [(n, "server") for n in config.servers]
        + [(n, "route") for n in config.routes]
        + [(n, "group") for n in config.groups]
        + [(n, "intent") for n in intents]
        + [(n, "alias") for n in config.aliases]
    )
