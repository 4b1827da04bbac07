"""modelyard's own image (Dockerfile), built on a real engine from the local Debian base: it
runs as a non-root user, its CLI works, its HEALTHCHECK turns a container healthy, a container
serves (the supervisor starts a server as a process inside it) and stops cleanly on SIGTERM as
PID 1. Issue 13."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.docker_engine import Engine, docker
from harness.stack import free_port, wait_for
from supervisor.paths import project_root

pytestmark = pytest.mark.integration

TAG = "modelyard:test"
# Locally added CAs (Debian's convention): where a proxy re-signs TLS, pip inside the build
# must trust them too (the Dockerfile's CA_CERTS).
LOCAL_CAS = Path("/usr/local/share/ca-certificates")


@pytest.fixture(scope="module")
def image(docker_engine: Engine) -> Iterator[str]:
    cas = "".join(p.read_text() for p in sorted(LOCAL_CAS.glob("*.crt")))
    before = set(dangling(docker_engine))
    started = time.monotonic()
    built = docker(
        docker_engine,
        "build",
        "--force-rm",  # no container left by a failed step either
        "--network",
        "host",
        "--build-arg",
        f"BASE={docker_engine.base_image}",
        "--build-arg",
        f"CA_CERTS={cas}",
        "--tag",
        TAG,
        str(project_root()),
        timeout=900.0,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    print(f"\nmodelyard image built in {time.monotonic() - started:.0f} s")
    try:
        yield TAG
    finally:
        docker(docker_engine, "rmi", "--force", TAG, check=False)
        # the build stage's image, which the classic builder leaves untagged
        stages = [i for i in dangling(docker_engine) if i not in before]
        if stages:
            docker(docker_engine, "rmi", *stages, check=False)


def dangling(engine: Engine) -> list[str]:
    return docker(engine, "images", "--quiet", "--filter", "dangling=true").stdout.split()


def inspect(engine: Engine, what: str) -> Any:
    return json.loads(docker(engine, "inspect", what).stdout)[0]


def test_image_runs_as_non_root_with_a_writable_home(docker_engine: Engine, image: str) -> None:
    assert inspect(docker_engine, image)["Config"]["User"] == "10001:10001"
    probe = "id -u && touch $HOME/probe && touch $MODELYARD_HOME/probe && echo $HOME"
    ran = docker(docker_engine, "run", "--rm", "--entrypoint", "sh", image, "-c", probe)
    assert ran.stdout.split() == ["10001", "/var/lib/modelyard"]


def test_cli_works_inside(docker_engine: Engine, image: str) -> None:
    helped = docker(docker_engine, "run", "--rm", image, "--help")
    for command in ("up", "supervisor", "proxy", "check"):
        assert command in helped.stdout


def test_image_declares_ports_healthcheck_and_entrypoint(docker_engine: Engine, image: str) -> None:
    config = inspect(docker_engine, image)["Config"]
    assert set(config["ExposedPorts"]) == {"4000/tcp", "4100/tcp"}
    assert config["Entrypoint"] == ["modelyard"]
    assert config["Cmd"] == ["up", "--config", "/etc/modelyard/servers.yaml"]
    check = config["Healthcheck"]["Test"]
    assert check[0] == "CMD" and "urllib" in check[-1]


def test_image_is_light(docker_engine: Engine, image: str) -> None:
    """No compiler, no pip cache, no build context in the image; only the venv was copied."""
    probe = (
        "for tool in gcc cc make; do command -v $tool; done; "
        "ls -d /src /root/.cache $HOME/.cache 2>/dev/null; true"
    )
    ran = docker(docker_engine, "run", "--rm", "--entrypoint", "sh", image, "-c", probe)
    assert ran.stdout.split() == []


def test_a_container_turns_healthy_serves_and_stops_cleanly(
    docker_engine: Engine, image: str, tmp_path: Path
) -> None:
    admin, proxy, server_port = free_port(), free_port(), free_port()
    # A server the image can start with nothing but its own Python: the supervisor runs it as a
    # process inside the container.
    config: dict[str, Any] = {
        "supervisor": {"port": admin, "port_range": [server_port, server_port]},
        "proxy": {"port": proxy},
        "servers": {
            "echo": {
                "model": "echo",
                "command": ["{python}", "-m", "http.server", "{port}", "--bind", "{host}"],
                "health_path": "/",
            }
        },
        "routes": {"agent": ["echo"]},
    }
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)  # read by uid 10001 through the bind mount
    urls = f"http://127.0.0.1:{proxy}/health http://127.0.0.1:{admin}/health"
    name = f"modelyard-image-test-{proxy}"
    docker(
        docker_engine,
        *("run", "--detach", "--name", name, "--network", "host"),
        *("--volume", f"{path}:/etc/modelyard/servers.yaml:ro"),
        *("--env", f"MODELYARD_HEALTH_URLS={urls}", "--health-interval", "1s"),
        image,
    )
    try:
        started = time.monotonic()
        # the image's own HEALTHCHECK decides, run by the engine
        wait_for(
            lambda: inspect(docker_engine, name)["State"]["Health"]["Status"] == "healthy",
            timeout=60,
            what="the container to turn healthy",
        )
        print(f"\ncontainer healthy in {time.monotonic() - started:.1f} s")
        assert httpx.get(f"http://127.0.0.1:{proxy}/health").status_code == 200
        url = f"http://127.0.0.1:{admin}"
        loaded = docker(docker_engine, "exec", name, "modelyard", "load", "echo", "--url", url)
        assert "echo ready" in loaded.stdout, loaded.stdout + loaded.stderr
        assert httpx.get(f"http://127.0.0.1:{server_port}/").status_code == 200
        # PID 1 handles SIGTERM: the server is stopped and modelyard exits 0, well inside the grace
        stopping = time.monotonic()
        docker(docker_engine, "stop", "--time", "30", name, timeout=60.0)
        assert time.monotonic() - stopping < 20
        state = inspect(docker_engine, name)["State"]
        assert state["ExitCode"] == 0, docker(docker_engine, "logs", name).stderr[-3000:]
        assert "echo: stopping -> stopped" in docker(docker_engine, "logs", name).stderr
    finally:
        docker(docker_engine, "rm", "--force", name, check=False)
