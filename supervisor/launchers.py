"""The launcher each server runs with, by its `launcher:` key: one Launcher over two.

The process launcher always exists; the Docker one is built on first use, so a config with no
container server never imports the Docker SDK nor dials an engine, and one whose engine is down
still starts (its container servers fail with a LaunchError naming the engine, when asked for).
A config that no longer has container servers still gets one when the state file records a
container, so what a previous supervisor left running is stopped, not forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from supervisor.command import LaunchSpec
from supervisor.launcher import Launcher, ServerHandle
from supervisor.statefile import Record

log = logging.getLogger("modelyard.supervisor")


class Launchers:
    """`docker`: builds the container launcher when first needed (None: none available).
    `containers_configured`: a server says `launcher: docker`, so the sweep asks the engine
    even when no record named a container."""

    def __init__(
        self,
        process: Launcher,
        docker: Callable[[], Launcher] | None = None,
        containers_configured: bool = False,
    ) -> None:
        self._process = process
        self._make_docker = docker
        self._configured = containers_configured and docker is not None
        self._docker: Launcher | None = None

    def _containers(self) -> Launcher | None:
        if self._docker is None and self._make_docker is not None:
            self._docker = self._make_docker()
        return self._docker

    def _for_spec(self, spec: LaunchSpec) -> Launcher:
        if spec.container is None:
            return self._process
        docker = self._containers()
        if docker is None:  # a config check makes this unreachable; say so if it is not
            raise RuntimeError(f"{spec.name} is a container server but no Docker launcher is set")
        return docker

    async def start(self, spec: LaunchSpec, log_path: Path) -> ServerHandle:
        return await self._for_spec(spec).start(spec, log_path)

    async def adopt(self, record: Record, log_path: Path) -> ServerHandle | None:
        if record.container_id is None:
            return await self._process.adopt(record, log_path)
        docker = self._containers()
        return await docker.adopt(record, log_path) if docker is not None else None

    async def sweep(self, keep: Sequence[ServerHandle]) -> list[str]:
        removed = await self._process.sweep(keep)
        if self._configured or self._docker is not None:
            docker = self._containers()
            assert docker is not None
            removed += await docker.sweep(keep)
        return removed

    async def close(self) -> None:
        await self._process.close()
        if self._docker is not None:
            await self._docker.close()
