"""Which server answers a request, from its `model` field alone. Pure: config in, names out.

`auto` (or no model) means the default route; a route name means that route's first
candidate; an alias means whatever it points at; a server name means that server. Later
stages (classification, fallback) will walk the rest of the chain; here the first link wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.errors import ModelNotFoundError
from supervisor.config import Config

AUTO = "auto"


@dataclass(frozen=True)
class Resolution:
    requested: str
    route: str | None
    candidates: tuple[str, ...]
    intent: str | None = None  # the route chosen, or the first route that lists the server

    @property
    def server(self) -> str:
        return self.candidates[0]


def resolve_model(config: Config, requested: str | None) -> Resolution:
    name = requested or AUTO
    target = config.aliases.get(name, name)
    if target == AUTO:
        target = config.proxy.default_route
    if target in config.routes:
        return Resolution(name, target, tuple(config.routes[target]), intent=target)
    if target in config.servers:
        return Resolution(name, None, (target,), intent=route_of(config, target))
    raise ModelNotFoundError(
        f"The model {name!r} does not exist. GET /v1/models lists the servers, routes and "
        "aliases this proxy serves.",
        param="model",
    )


def route_of(config: Config, server: str) -> str | None:
    return next((route for route, chain in config.routes.items() if server in chain), None)


def model_ids(config: Config) -> list[tuple[str, str]]:
    """Every name a client may send as `model`, with what kind of name it is."""
    return (
        [(AUTO, "auto")]
        + [(n, "server") for n in config.servers]
        + [(n, "route") for n in config.routes]
        + [(n, "alias") for n in config.aliases]
    )
