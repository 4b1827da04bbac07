"""A real Docker engine for the container tests: Debian's dockerd with its own data root, exec
root and socket, and a small base image made locally (no registry is reachable here).

Being written (issue 13): `start` and `stop` are the contract the tests use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BASE_IMAGE = "local/base:bookworm"


class EngineUnavailable(Exception):
    """The engine could not be started here; the message says why (the tests print it)."""


@dataclass(frozen=True)
class Engine:
    host: str  # "unix:///.../docker.sock": DOCKER_HOST for the CLI, base_url for the SDK
    base_image: str  # a local image with python3, and the libraries the host's venvs need
    root: Path | None  # what start() made (removed by stop()); None for an engine from_env()


def from_env() -> Engine | None:
    """An engine already running, named by MODELYARD_TEST_DOCKER_HOST (a developer's loop:
    its base image must already be there); None when unset."""
    host = os.environ.get("MODELYARD_TEST_DOCKER_HOST")
    if not host:
        return None
    return Engine(host, os.environ.get("MODELYARD_TEST_BASE_IMAGE", BASE_IMAGE), None)


def start(work: Path) -> Engine:
    raise EngineUnavailable("harness/docker_engine.start is not written yet")


def stop(engine: Engine) -> None:
    pass
