"""What the container launcher asks the Docker engine to create, decided without an engine: a
rendered server's LaunchSpec mapped to `containers.create` keyword arguments, and those passed
through the SDK's own conversion (the step before its HTTP call) to the engine's JSON, so a
keyword the SDK does not know, or a value it cannot convert, fails here."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from docker.models.containers import _create_container_args
from docker.types import DeviceRequest, Mount

from modelyard_config import parse_config
from supervisor.command import (
    LABEL_FINGERPRINT,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    LABEL_PORT,
    LABEL_SERVER,
    LaunchFacts,
    LaunchSpec,
    render,
)
from supervisor.docker_args import create_kwargs, mount

GPU_FACTS = LaunchFacts(
    host="127.0.0.1",
    port=8123,
    engine_python="/venv/bin/python",
    models_dir="/srv/models",
    cuda_devices=(2, 3),
    instance="abc123",
)
HOST_FACTS = replace(GPU_FACTS, cuda_devices=None)  # no NVML: nothing placed on a GPU


def spec(facts: LaunchFacts = GPU_FACTS, **container: Any) -> LaunchSpec:
    server = {
        "model": "{models_dir}/qwen",
        "launcher": "docker",
        "command": ["--model", "{model}", "--host", "{host}", "--port", "{port}"],
        "env": {"HF_HOME": "/hf"},
        "container": {"image": "vllm/vllm-openai:v0.11.0", **container},
    }
    config = parse_config({"servers": {"qwen": server}, "routes": {"agent": ["qwen"]}})
    return render(config, "qwen", facts)


def engine_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The SDK's create() conversion, as containers.create runs it before its HTTP call."""
    converted: dict[str, Any] = _create_container_args({**kwargs, "version": "1.41"})
    return converted


def test_the_command_env_labels_and_name_come_from_the_rendered_spec() -> None:
    launch = spec()
    kwargs = create_kwargs(launch)
    assert kwargs["image"] == "vllm/vllm-openai:v0.11.0"
    assert kwargs["name"] == "modelyard-abc123-qwen"
    assert kwargs["command"] == [
        "--model",
        "/srv/models/qwen",
        "--host",
        "0.0.0.0",
        "--port",
        "8123",
    ]
    assert kwargs["entrypoint"] is None, "the image's own entrypoint"
    assert kwargs["environment"] == {"HF_HOME": "/hf"}
    assert kwargs["detach"] is True
    labels = kwargs["labels"]
    assert labels[LABEL_MANAGED] == "1" and labels[LABEL_INSTANCE] == "abc123"
    assert labels[LABEL_SERVER] == "qwen" and labels[LABEL_PORT] == "8123"
    assert labels[LABEL_FINGERPRINT] == launch.fingerprint()
    converted = engine_json(kwargs)
    assert converted["labels"] == labels and converted["name"] == "modelyard-abc123-qwen"


def test_an_entrypoint_user_shm_and_ipc_are_passed_only_when_set() -> None:
    plain = create_kwargs(spec())
    assert not {"shm_size", "ipc_mode", "user"} & plain.keys()
    full = create_kwargs(
        spec(entrypoint=["python3", "-m", "vllm"], shm_size="16g", ipc="host", user="1000:1000")
    )
    assert full["entrypoint"] == ["python3", "-m", "vllm"]
    assert (full["shm_size"], full["ipc_mode"], full["user"]) == ("16g", "host", "1000:1000")
    host_config = engine_json(full)["host_config"]
    assert host_config["ShmSize"] == 16 * 1024**3 and host_config["IpcMode"] == "host"


def test_no_network_publishes_the_port_on_loopback_only() -> None:
    kwargs = create_kwargs(spec())
    assert kwargs["ports"] == {"8123/tcp": ("127.0.0.1", 8123)}
    assert "network_mode" not in kwargs and "network" not in kwargs
    host_config = engine_json(kwargs)["host_config"]
    assert host_config["PortBindings"] == {
        "8123/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8123"}]
    }


def test_the_host_network_publishes_nothing() -> None:
    kwargs = create_kwargs(spec(network="host"))
    assert kwargs["network_mode"] == "host"
    assert "ports" not in kwargs and "network" not in kwargs
    assert "PortBindings" not in engine_json(kwargs)["host_config"]


def test_a_named_network_joins_it_and_publishes_nothing() -> None:
    kwargs = create_kwargs(spec(network="modelyard"))
    assert kwargs["network"] == "modelyard" and "ports" not in kwargs
    converted = engine_json(kwargs)
    assert converted["networking_config"] == {"modelyard": None}
    assert converted["host_config"]["NetworkMode"] == "modelyard"
    assert "PortBindings" not in converted["host_config"]


def test_placed_gpus_are_device_requests_by_index() -> None:
    kwargs = create_kwargs(spec())
    [request] = kwargs["device_requests"]
    assert isinstance(request, DeviceRequest)
    assert request.device_ids == ["2", "3"] and request.capabilities == [["gpu"]]
    host_config = engine_json(kwargs)["host_config"]
    assert host_config["DeviceRequests"][0]["DeviceIDs"] == ["2", "3"]


@pytest.mark.parametrize(
    ("facts", "gpus"), [(GPU_FACTS, False), (HOST_FACTS, True)], ids=["gpus-false", "no-gpu-box"]
)
def test_no_gpu_is_requested_without_placed_gpus(facts: LaunchFacts, gpus: bool) -> None:
    kwargs = create_kwargs(spec(facts, gpus=gpus))
    assert "device_requests" not in kwargs
    assert "DeviceRequests" not in engine_json(kwargs)["host_config"]


def test_volumes_are_bind_mounts_for_paths_and_named_volumes_otherwise() -> None:
    kwargs = create_kwargs(spec(volumes=["{models_dir}:/models:ro", "hf-cache:/hf", "/data:/d:rw"]))
    assert kwargs["mounts"] == [
        Mount("/models", "/srv/models", type="bind", read_only=True),
        Mount("/hf", "hf-cache", type="volume", read_only=False),
        Mount("/d", "/data", type="bind", read_only=False),
    ]
    assert "volumes" not in kwargs, "no -v binds: a missing source must fail, not be created"
    mounts = engine_json(kwargs)["host_config"]["Mounts"]
    assert [(m["Type"], m["Source"], m["Target"], m["ReadOnly"]) for m in mounts] == [
        ("bind", "/srv/models", "/models", True),
        ("volume", "hf-cache", "/hf", False),
        ("bind", "/data", "/d", False),
    ]


def test_a_volume_without_a_mode_is_writable() -> None:
    assert mount("/srv/models:/models") == Mount("/models", "/srv/models", type="bind")


def test_a_process_server_has_no_container_arguments() -> None:
    config = parse_config(
        {"servers": {"p": {"model": "m", "command": ["x"]}}, "routes": {"agent": ["p"]}}
    )
    with pytest.raises(ValueError, match="not a container server"):
        create_kwargs(render(config, "p", HOST_FACTS))


def test_passed_host_variables_sit_under_the_servers_own_env() -> None:
    kwargs = create_kwargs(spec(), {"HF_TOKEN": "hf_secret", "HF_HOME": "/host-hf"})
    assert kwargs["environment"] == {"HF_TOKEN": "hf_secret", "HF_HOME": "/hf"}


def test_the_engines_own_log_copy_is_bounded_and_no_docker_proxy_config_is_added() -> None:
    kwargs = create_kwargs(spec())
    assert kwargs["use_config_proxy"] is False
    log_config = engine_json(kwargs)["host_config"]["LogConfig"]
    assert log_config["Type"] == "json-file"
    assert log_config["Config"] == {"max-size": "16m", "max-file": "2"}


def test_only_the_named_host_variables_are_passed() -> None:
    from modelyard_config.supervisor import DockerSettings
    from supervisor.docker_launcher import DockerLauncher

    environ = {"HF_TOKEN": "t", "MY_A": "1", "MODELYARD_ADMIN_TOKEN": "x", "PATH": "/usr/bin"}
    default = DockerLauncher(DockerSettings(), "i", environ)
    assert default._passed() == {"HF_TOKEN": "t"}
    wider = DockerLauncher(DockerSettings(env_passthrough=["MY_*"]), "i", environ)
    assert wider._passed() == {"MY_A": "1"}
