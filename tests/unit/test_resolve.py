"""How the `model` field picks a server: auto, routes, aliases, server names, unknowns."""

from __future__ import annotations

import pytest

from proxy.errors import ModelNotFoundError
from proxy.resolve import model_ids, resolve_model
from supervisor.config import Config, parse_config


@pytest.fixture
def config() -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {"default_route": "agent"},
            "servers": {"big": {"model": "m1"}, "small": {"model": "m2"}, "vl": {"model": "m3"}},
            "routes": {"agent": ["big", "small"], "video": ["vl", "small"]},
            "aliases": {"gpt-4o": "agent", "tiny": "small"},
        }
    )


@pytest.mark.parametrize("model", [None, "", "auto"])
def test_auto_means_default_route(config: Config, model: str | None) -> None:
    r = resolve_model(config, model)
    assert (r.route, r.candidates, r.server) == ("agent", ("big", "small"), "big")


def test_route_name(config: Config) -> None:
    assert resolve_model(config, "video").candidates == ("vl", "small")


def test_alias_to_route_and_to_server(config: Config) -> None:
    assert resolve_model(config, "gpt-4o").route == "agent"
    r = resolve_model(config, "tiny")
    assert (r.route, r.server) == (None, "small")


def test_server_name(config: Config) -> None:
    r = resolve_model(config, "vl")
    assert (r.candidates, r.intent) == (("vl",), "video")


def test_intent_is_the_route(config: Config) -> None:
    assert resolve_model(config, "gpt-4o").intent == "agent"
    assert resolve_model(config, None).intent == "agent"


def test_unknown_model(config: Config) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model(config, "gpt-5")
    body = info.value.body()["error"]
    assert (info.value.status, body["code"], body["param"]) == (404, "model_not_found", "model")


def test_model_ids_lists_every_name(config: Config) -> None:
    assert dict(model_ids(config)) == {
        "auto": "auto",
        "big": "server",
        "small": "server",
        "vl": "server",
        "agent": "route",
        "video": "route",
        "gpt-4o": "alias",
        "tiny": "alias",
    }
