"""`modelyard check` warns when a warm server cannot sleep (hardening issue): vLLM sleeps only
with --enable-sleep-mode and serves /sleep only with VLLM_SERVER_DEV_MODE=1; without both a
warm server is stopped when evicted and loads cold again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard_config import load_config, parse_config
from modelyard_config.checks import warnings
from supervisor.paths import project_root

VLLM = ["vllm", "serve", "{model}", "--port", "{port}"]
SLEEPY = {"args": ["--enable-sleep-mode"], "env": {"VLLM_SERVER_DEV_MODE": "1"}}


def config(servers: dict[str, dict[str, Any]], **defaults: Any) -> dict[str, Any]:
    return {
        "supervisor": {"defaults": {"command": VLLM, **defaults}},
        "servers": {name: {"model": "m", **spec} for name, spec in servers.items()},
        "routes": {"agent": list(servers)},
    }


def test_a_warm_vllm_server_without_the_flag_or_the_env_is_warned_about() -> None:
    found = warnings(
        parse_config(
            config(
                {
                    "bare": {"tier": "warm"},
                    "flag_only": {"tier": "warm", "args": ["--enable-sleep-mode"]},
                    "env_only": {"tier": "warm", "env": {"VLLM_SERVER_DEV_MODE": "1"}},
                    "sleepy": {"tier": "warm", **SLEEPY},
                }
            )
        )
    )
    assert [key for key, _ in found] == ["servers.bare", "servers.flag_only", "servers.env_only"]
    messages = dict(found)
    assert messages["servers.bare"] == (
        "tier warm but its command has no --enable-sleep-mode and env VLLM_SERVER_DEV_MODE=1 "
        "is missing: it will be stopped, not put to sleep"
    )
    assert "VLLM_SERVER_DEV_MODE=1 is missing" in messages["servers.flag_only"]
    assert "--enable-sleep-mode" in messages["servers.env_only"]
    assert "VLLM_SERVER_DEV_MODE" not in messages["servers.env_only"]


def test_the_defaults_count_and_only_warm_vllm_servers_are_checked() -> None:
    data = config(
        {
            "cold": {},
            "hot": {"tier": "hot"},
            "sidecar": {"tier": "warm", "command": ["{python}", "-m", "sidecars.tts"]},
            "module": {
                "tier": "warm",
                "command": ["{engine_python}", "-m", "vllm.entrypoints.openai.api_server"],
            },
            "by_path": {"tier": "warm", "command": ["/opt/venv/bin/vllm", "serve", "{model}"]},
        }
    )
    assert [k for k, _ in warnings(parse_config(data))] == ["servers.module", "servers.by_path"]
    data["supervisor"]["defaults"]["env"] = {"VLLM_SERVER_DEV_MODE": "1"}
    data["servers"]["by_path"]["args"] = ["--enable-sleep-mode=true"]
    assert [k for k, _ in warnings(parse_config(data))] == ["servers.module"]


def test_the_shipped_configs_let_every_warm_server_sleep() -> None:
    root = project_root()
    for path in [root / "servers.yaml", *sorted(Path(root / "profiles").glob("*.yaml"))]:
        assert warnings(load_config(path)) == [], path


def test_a_server_on_an_endpoint_route_without_its_capability_is_warned_about() -> None:
    data = config(
        {"chatty": {"capabilities": ["text"]}, "vectors": {"capabilities": ["embedding"]}}
    )
    data["routes"] = {"agent": ["chatty"], "embed": ["vectors", "chatty"]}
    found = dict(warnings(parse_config(data)))
    assert "chatty lacks embedding" in found["routes.embed"]
    assert all("vectors" not in why for why in found.values())


def test_a_chat_server_on_the_stt_route_beside_whisper_is_not_warned_about() -> None:
    # the stt intent is sent transcriptions (Whisper) and chats with audio (Qwen2-Audio)
    data = config(
        {
            "hearing": {"capabilities": ["text", "audio_in"]},
            "whisper": {"capabilities": ["transcription"]},
            "chatty": {"capabilities": ["text"]},
        }
    )
    data["routes"] = {"agent": ["chatty"], "stt": ["hearing", "whisper"]}
    assert warnings(parse_config(data)) == []
