"""Which servers may answer a request, in order: from its `model` field, its intent and its
inputs. Pure: config and request features in, names and reasons out.

The `model` field:
- `auto`, empty or absent: the classifier picks the intent, and the intent's route is the chain;
- an intent or a route (or an alias of one): that route's chain, no classification;
- a server (or an alias of one): that server first, then the rest of its route's chain.

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
Kind = Literal["auto", "intent", "route", "server"]

# A prompt has at least one token per this many characters in every tokenizer we know of
# (English runs ~4; Indian scripts far fewer), so chars // 4 under-counts and never skips a
# server that could take the prompt.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Target:
    """What the `model` field names, aliases followed."""

    requested: str
    kind: Kind
    name: str | None  # the intent, route or server; None for auto


@dataclass(frozen=True)
class Plan:
    requested: str
    intent: str | None
    route: str | None
    candidates: tuple[str, ...]  # servers able to take the request, in order
    skipped: tuple[tuple[str, str], ...] = ()  # (server, why it cannot)

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
    if target in config.servers:
        return Target(name, "server", target)
    raise ModelNotFoundError(
        f"The model {name!r} does not exist. GET /v1/models lists the servers, intents, routes "
        "and aliases this proxy serves.",
        param="model",
    )


def plan(config: Config, target: Target, features: Features, intent: str | None = None) -> Plan:
    """The chain for `target`; `intent` is the classifier's answer when target is auto."""
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
        server = target.name
        route = route_of(config, server)
        rest = [s for s in config.routes.get(route or "", []) if s != server]
        chain = (server, *rest)
        chosen = intent_of_route(config, route) if route else None
    kept, skipped = [], []
    for server in chain:
        why = unfit(config.servers[server], features)
        if why is None:
            kept.append(server)
        else:
            skipped.append((server, why))
    return Plan(target.requested, chosen, route, tuple(kept), tuple(skipped))


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


def route_of(config: Config, server: str) -> str | None:
    return next((route for route, chain in config.routes.items() if server in chain), None)


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
        + [(n, "intent") for n in intents]
        + [(n, "alias") for n in config.aliases]
    )
