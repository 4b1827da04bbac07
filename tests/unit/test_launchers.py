"""Which launcher a server or a record goes to, and when the Docker one is built at all."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from supervisor.command import ContainerLaunch, LaunchSpec
from supervisor.launchers import Launchers
from supervisor.statefile import Record


class Recorder:
    """Stands in for a launcher: only which calls reach it matters here (the real ones are
    driven in tests/integration: test_lifecycle.py and test_containers.py)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[str] = []

    async def start(self, spec: LaunchSpec, log_path: Path) -> Any:
        self.calls.append(f"start {spec.name}")
        return self.name

    async def adopt(self, record: Record, log_path: Path) -> Any:
        self.calls.append(f"adopt {record.name}")
        return None

    async def sweep(self, keep: Sequence[Any]) -> list[str]:
        self.calls.append("sweep")
        return [f"{self.name} swept"]

    async def close(self) -> None:
        self.calls.append("close")


def spec(name: str, container: bool) -> LaunchSpec:
    box = ContainerLaunch(
        "img", f"c-{name}", None, [], None, None, "host", 1, None, None, "never", {}
    )
    return LaunchSpec(name, [], {}, "http://x", "http://x/health", 1, 1, box if container else None)


def record(name: str, container_id: str | None) -> Record:
    return Record(name, 1, 1, [], [], 0.0, container_id=container_id)


def rig(configured: bool) -> tuple[Launchers, Recorder, Recorder, list[int]]:
    process, docker, built = Recorder("process"), Recorder("docker"), [0]

    def make() -> Recorder:
        built[0] += 1
        return docker

    return Launchers(process, make, containers_configured=configured), process, docker, built


async def test_processes_never_build_the_docker_launcher(tmp_path: Path) -> None:
    launchers, process, _, built = rig(configured=False)
    assert await launchers.start(spec("a", container=False), tmp_path / "a.log") == "process"
    await launchers.adopt(record("a", None), tmp_path / "a.log")
    assert await launchers.sweep([]) == ["process swept"]
    await launchers.close()
    assert built == [0] and process.calls == ["start a", "adopt a", "sweep", "close"]


async def test_container_servers_go_to_docker_built_once(tmp_path: Path) -> None:
    launchers, _, docker, built = rig(configured=True)
    assert await launchers.start(spec("c", container=True), tmp_path / "c.log") == "docker"
    assert await launchers.start(spec("d", container=True), tmp_path / "d.log") == "docker"
    assert await launchers.sweep([]) == ["process swept", "docker swept"]
    assert built == [1] and docker.calls == ["start c", "start d", "sweep"]


async def test_configured_containers_are_swept_even_with_no_record(tmp_path: Path) -> None:
    launchers, _, _, built = rig(configured=True)
    assert await launchers.sweep([]) == ["process swept", "docker swept"]
    assert built == [1]


async def test_a_recorded_container_is_handled_after_docker_left_the_config(
    tmp_path: Path,
) -> None:
    """What a previous supervisor left running is found, so adoption can stop it."""
    launchers, process, docker, built = rig(configured=False)
    await launchers.adopt(record("old", "abc"), tmp_path / "old.log")
    assert await launchers.sweep([]) == ["process swept", "docker swept"]
    assert docker.calls == ["adopt old", "sweep"] and process.calls == ["sweep"]
    assert built == [1]
