"""The container launcher (launcher.Launcher) over the Docker SDK: being written (issue 13)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from modelyard_config.supervisor import DockerSettings
from supervisor.command import LaunchSpec
from supervisor.errors import LaunchError
from supervisor.launcher import ServerHandle
from supervisor.statefile import Record


class DockerLauncher:
    def __init__(self, settings: DockerSettings) -> None:
        self._settings = settings

    async def start(self, spec: LaunchSpec, log_path: Path) -> ServerHandle:
        raise LaunchError(f"{spec.name}: container servers are not implemented yet")

    async def adopt(self, record: Record, log_path: Path) -> ServerHandle | None:
        return None

    async def sweep(self, keep: Sequence[ServerHandle]) -> list[str]:
        return []

    async def close(self) -> None:
        pass
