"""servers.yaml validation: shipped files load; each mistake names its file and key path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from supervisor import paths
from supervisor.config import load_config, parse_config
from supervisor.errors import ConfigError

ROOT = paths.project_root()
SHIPPED = [ROOT / "servers.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))]


def minimal() -> dict[str, Any]:
    return {
        "supervisor": {"defaults": {"command": ["serve", "{model}", "--port", "{port}"]}},
        "servers": {"a": {"model": "m-a"}, "b": {"model": "m-b"}},
        "routes": {"agent": ["a", "b"]},
        "aliases": {"gpt-4o": "agent"},
    }


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    assert "test.yaml" in str(info.value)
    return info.value.problems


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_validates(path: Path) -> None:
    config = load_config(path)
    assert config.servers
    assert config.proxy.default_route in config.routes


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(minimal())
    assert config.supervisor.port == 4100
    assert config.proxy.port == 4000
    assert config.supervisor.gpu_memory_limit == 0.80
    assert config.served_name("a") == "a"
    assert config.supervisor_url() == "http://127.0.0.1:4100"


def test_unknown_key_names_its_path() -> None:
    data = minimal()
    data["servers"]["a"]["modle"] = "typo"
    assert problems_of(data) == [("servers.a.modle", "Extra inputs are not permitted")]


def test_unknown_top_level_section() -> None:
    data = minimal()
    data["sevrers"] = {}
    assert [p for p, _ in problems_of(data)] == ["sevrers"]


def test_route_naming_unknown_server_names_index() -> None:
    data = minimal()
    data["routes"]["agent"] = ["a", "phi-3"]
    assert problems_of(data) == [("routes.agent[1]", "unknown server 'phi-3'")]


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"supervisor": {"port": "abc"}}, "supervisor.port"),
        ({"supervisor": {"port": 70000}}, "supervisor.port"),
        ({"supervisor": {"gpu_memory_limit": 1.5}}, "supervisor.gpu_memory_limit"),
        ({"proxy": {"request_timeout": -1}}, "proxy.request_timeout"),
        ({"supervisor": {"port_range": [9000, 8000]}}, "supervisor.port_range"),
    ],
)
def test_bad_values_name_their_path(patch: dict[str, Any], path: str) -> None:
    data = minimal()
    for section, values in patch.items():
        data[section] = {**data.get(section, {}), **values}
    assert path in [p for p, _ in problems_of(data)]


def test_bad_server_tier() -> None:
    data = minimal()
    data["servers"]["a"]["tier"] = "lukewarm"
    assert [p for p, _ in problems_of(data)] == ["servers.a.tier"]


def test_empty_route_is_an_error() -> None:
    data = minimal()
    data["routes"]["agent"] = []
    assert [p for p, _ in problems_of(data)] == ["routes.agent"]


def test_alias_to_nothing() -> None:
    data = minimal()
    data["aliases"]["gpt-5"] = "nowhere"
    assert problems_of(data) == [("aliases.gpt-5", "'nowhere' is neither a server nor a route")]


def test_names_must_not_mean_two_things() -> None:
    data = minimal()
    data["aliases"]["a"] = "agent"
    data["routes"]["b"] = ["a"]
    paths_ = [p for p, _ in problems_of(data)]
    assert "aliases.a" in paths_
    assert "routes.b" in paths_


def test_default_route_must_exist() -> None:
    data = minimal()
    data["proxy"] = {"default_route": "chat"}
    assert problems_of(data) == [("proxy.default_route", "unknown route 'chat'")]


def test_unknown_placeholder_in_command() -> None:
    data = minimal()
    data["servers"]["a"]["args"] = ["--tp", "{tensor_parallel}"]
    ((path, message),) = problems_of(data)
    assert path == "servers.a.args[1]"
    assert "{tensor_parallel}" in message


def test_server_without_any_command() -> None:
    data = minimal()
    del data["supervisor"]
    assert ("servers.a.command", "no command, and supervisor.defaults.command is not set") in (
        problems_of(data)
    )


def test_all_problems_reported_at_once() -> None:
    data = minimal()
    data["routes"]["agent"] = ["x", "y"]
    data["aliases"]["z"] = "w"
    assert len(problems_of(data)) == 3


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "servers.yaml"
    bad.write_text("servers: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.yaml")


def test_non_mapping_top_level(tmp_path: Path) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(["a", "b"]))
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)
