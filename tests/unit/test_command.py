"""Rendering a server's launch spec from config: argv lists, never shell strings."""

from __future__ import annotations

from modelyard_config import parse_config
from supervisor.command import LaunchFacts, render

FACTS = LaunchFacts(
    host="127.0.0.1",
    port=8123,
    engine_python="/venv/bin/python",
    models_dir="/my models",
    gpu_memory_utilization=0.25,
)


def config() -> object:
    return parse_config(
        {
            "supervisor": {
                "defaults": {
                    "command": [
                        "{engine_python}",
                        "-m",
                        "vllm",
                        "--model",
                        "{model}",
                        "--served-model-name",
                        "{served_name}",
                        "--port",
                        "{port}",
                        "--gpu-memory-utilization",
                        "{gpu_memory_utilization}",
                    ],
                    "env": {"A": "1", "B": "default"},
                    "startup_timeout": 60,
                }
            },
            "servers": {
                "tiny": {
                    "model": "{models_dir}/tiny; rm -rf /",
                    "served_name": "tiny-served",
                    "args": ["--max-model-len", "512"],
                    "env": {"B": "server"},
                    "health_path": "/ready",
                    "stop_grace": 3,
                },
            },
            "routes": {"agent": ["tiny"]},
        }
    )


def test_argv_is_filled_and_keeps_each_value_one_argument() -> None:
    spec = render(config(), "tiny", FACTS)  # type: ignore[arg-type]
    assert spec.argv == [
        "/venv/bin/python",
        "-m",
        "vllm",
        "--model",
        "/my models/tiny; rm -rf /",
        "--served-model-name",
        "tiny-served",
        "--port",
        "8123",
        "--gpu-memory-utilization",
        "0.2500",
        "--max-model-len",
        "512",
    ]


def test_env_overlay_urls_and_timeouts() -> None:
    spec = render(config(), "tiny", FACTS)  # type: ignore[arg-type]
    assert spec.env == {"A": "1", "B": "server"}
    assert spec.base_url == "http://127.0.0.1:8123"
    assert spec.health_url == "http://127.0.0.1:8123/ready"
    assert spec.startup_timeout == 60
    assert spec.stop_grace == 3


def test_json_arguments_are_not_placeholders() -> None:
    cfg = parse_config(
        {
            "servers": {
                "vl": {
                    "model": "m",
                    "command": [
                        "vllm",
                        "serve",
                        "{model}",
                        "--limit-mm-per-prompt",
                        '{"image": 8, "video": 1}',
                    ],
                }
            },
            "routes": {"agent": ["vl"]},
        }
    )
    assert render(cfg, "vl", FACTS).argv[-1] == '{"image": 8, "video": 1}'
