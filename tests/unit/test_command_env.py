"""Env values take placeholders like argv does: the multimodal server's PYTHONPATH names the
engine's media-libs folder (torchvision and friends, kept off the text servers) without a path
fixed in the profile."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import ConfigError, parse_config
from supervisor.command import LaunchFacts, render

FACTS = LaunchFacts(
    host="127.0.0.1", port=8123, engine_python="/opt/engine venv/bin/python", models_dir="/m"
)


def config_data(server_env: dict[str, str]) -> dict[str, Any]:
    return {
        "supervisor": {
            "defaults": {
                "command": ["{engine_python}", "--model", "{model}"],
                "env": {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "LOG": "/logs/{name}.log"},
            }
        },
        "servers": {"vl": {"model": "{models_dir}/tiny-vl", "env": server_env}},
        "routes": {"agent": ["vl"]},
    }


def test_pythonpath_names_the_media_libs_beside_the_engine_bin() -> None:
    config = parse_config(config_data({"PYTHONPATH": "{media_libs}"}))
    env = render(config, "vl", FACTS).env
    assert env["PYTHONPATH"] == "/opt/engine venv/media-libs"


def test_defaults_env_is_filled_and_literal_values_pass_through() -> None:
    config = parse_config(config_data({"JSON": '{"image": 2}'}))
    env = render(config, "vl", FACTS).env
    assert env == {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "LOG": "/logs/vl.log",
        "JSON": '{"image": 2}',  # not an `{identifier}`: stays literal, as in argv
    }


def test_unknown_placeholder_in_env_is_a_config_problem() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config_data({"PYTHONPATH": "{vision_libs}"}))
    ((path, message),) = info.value.problems
    assert path == "servers.vl.env.PYTHONPATH"
    assert "{vision_libs}" in message
