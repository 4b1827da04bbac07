"""`launcher: docker` servers in the config and their rendering: what the container launcher is
given, decided without an engine."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import Config, ConfigError, parse_config
from supervisor.command import (
    LABEL_FINGERPRINT,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_PORT,
    LABEL_SERVER,
    LaunchFacts,
    container_name,
    render,
)

FACTS = LaunchFacts(
    host="127.0.0.1",
    port=8123,
    engine_python="/venv/bin/python",
    models_dir="/srv/models",
    cuda_devices=(2, 3),
    instance="abc123",
)


def container(**extra: Any) -> dict[str, Any]:
    return {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "launcher": "docker",
        "command": ["{model}", "--host", "{host}", "--port", "{port}"],
        "env": {"HF_HOME": "/hf"},
        "container": {"image": "vllm/vllm-openai:v0.11.0", **extra},
    }


def config(server: dict[str, Any], **supervisor: Any) -> Config:
    return parse_config(
        {
            "supervisor": {
                "defaults": {"command": ["{engine_python}", "-m", "vllm"], "env": {"HOSTY": "1"}},
                **supervisor,
            },
            "servers": {"qwen": server},
            "routes": {"agent": ["qwen"]},
        }
    )


def test_the_command_is_the_entrypoints_arguments_never_the_process_default() -> None:
    spec = render(config(container()), "qwen", FACTS)
    assert spec.argv == ["Qwen/Qwen2.5-7B-Instruct", "--host", "0.0.0.0", "--port", "8123"]
    assert spec.env == {"HF_HOME": "/hf"}, "defaults.env is the host's: not a container's"
    assert "CUDA_VISIBLE_DEVICES" not in spec.env, "device_requests place it instead"
    assert spec.container is not None and spec.container.gpu_indices == (2, 3)


def test_published_port_is_reached_on_loopback() -> None:
    spec = render(config(container()), "qwen", FACTS)
    assert spec.container is not None
    assert spec.container.network is None and spec.container.port == 8123
    assert spec.base_url == "http://127.0.0.1:8123"


def test_host_network_binds_loopback_only() -> None:
    spec = render(config(container(network="host")), "qwen", FACTS)
    assert spec.argv[2] == "127.0.0.1"
    assert spec.base_url == "http://127.0.0.1:8123"


def test_a_shared_network_reaches_the_server_by_its_container_name() -> None:
    spec = render(config(container(network="modelyard")), "qwen", FACTS)
    assert spec.container is not None
    assert spec.container.name == "modelyard-abc123-qwen"
    assert spec.base_url == "http://modelyard-abc123-qwen:8123"
    assert spec.health_url == "http://modelyard-abc123-qwen:8123/health"


def test_labels_name_modelyard_the_instance_the_server_and_the_workload() -> None:
    spec = render(config(container()), "qwen", FACTS)
    assert spec.container is not None
    assert spec.container.labels == {
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: "abc123",
        LABEL_SERVER: "qwen",
        LABEL_FINGERPRINT: spec.fingerprint(),
        LABEL_PORT: "8123",
    }


def test_the_fingerprint_follows_what_runs_not_where_it_is_recorded() -> None:
    base = render(config(container()), "qwen", FACTS).fingerprint()
    assert render(config(container()), "qwen", FACTS).fingerprint() == base
    assert (
        render(config(container(image="vllm/vllm-openai:v0.12.0")), "qwen", FACTS).fingerprint()
        != base
    )
    assert render(config(container(shm_size="16g")), "qwen", FACTS).fingerprint() != base
    changed_env = {**container(), "env": {"HF_HOME": "/elsewhere"}}
    assert render(config(changed_env), "qwen", FACTS).fingerprint() != base


def test_no_gpus_when_the_server_opts_out_or_nothing_is_placed() -> None:
    spec = render(config(container(gpus=False)), "qwen", FACTS)
    assert spec.container is not None and spec.container.gpu_indices is None
    host_facts = LaunchFacts("127.0.0.1", 8123, "/venv/bin/python", "/srv/models")
    spec = render(config(container()), "qwen", host_facts)
    assert spec.container is not None and spec.container.gpu_indices is None


def test_volume_sources_take_placeholders() -> None:
    spec = render(config(container(volumes=["{models_dir}:/models:ro", "hf:/hf"])), "qwen", FACTS)
    assert spec.container is not None
    assert spec.container.volumes == ["/srv/models:/models:ro", "hf:/hf"]


def test_a_process_server_renders_as_before() -> None:
    spec = render(config({"model": "m"}), "qwen", FACTS)
    assert spec.container is None
    assert spec.argv == ["/venv/bin/python", "-m", "vllm"]
    assert spec.env == {"HOSTY": "1", "CUDA_VISIBLE_DEVICES": "2,3"}


def test_container_names_stay_valid_and_distinct() -> None:
    assert container_name("i1", "tiny-qwen.a") == "modelyard-i1-tiny-qwen.a"
    odd = container_name("i1", "qwen:7b")
    assert ":" not in odd and odd.startswith("modelyard-i1-qwen_7b-")
    assert container_name("i1", "qwen:7b") != container_name("i1", "qwen_7b")


@pytest.mark.parametrize(
    ("server", "path", "words"),
    [
        ({"model": "m", "launcher": "docker"}, "servers.qwen.container", "needs a container"),
        (
            {"model": "m", "container": {"image": "x"}},
            "servers.qwen.container",
            "only for `launcher: docker`",
        ),
        (container(volumes=["/data"]), "servers.qwen.container.volumes[0]", "source:target"),
        (container(volumes=["/a:data"]), "servers.qwen.container.volumes[0]", "absolute"),
        (container(volumes=["/a:/b:rx"]), "servers.qwen.container.volumes[0]", "ro or rw"),
        (container(entrypoint=["{nope}"]), "servers.qwen.container.entrypoint[0]", "{nope}"),
        ({**container(), "command": ["{gpu}"]}, "servers.qwen.command[0]", "{gpu}"),
    ],
)
def test_container_config_problems_name_the_key(
    server: dict[str, Any], path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        config(server)
    assert any(p == path and words in m for p, m in info.value.problems), info.value.problems


def test_an_instance_name_must_be_label_and_name_safe() -> None:
    with pytest.raises(ConfigError) as info:
        config(container(), docker={"instance": "Has Spaces"})
    assert any(p == "supervisor.docker.instance" for p, _ in info.value.problems)


def test_a_container_server_needs_no_command() -> None:
    """The image's own CMD runs: vllm/vllm-openai then needs its arguments some other way, but
    an image built for one model may need none."""
    server = {**container()}
    del server["command"]
    spec = render(config(server), "qwen", FACTS)
    assert spec.argv == []
