"""The launcher seam: how a server's workload is started, watched and taken down.

    Launcher       start(spec, log) -> ServerHandle; adopt(record, log) -> ServerHandle | None;
                   sweep(keep) -> removed; close()
    ServerHandle   one running server: pid, container_id, exited, returncode, wait(),
                   stop(grace), members(), rss_bytes()

Two implementations: process_launcher.ProcessLauncher runs a server as a local process group,
docker_launcher.DockerLauncher as a container on a Docker engine; launchers.Launchers picks one
per server (its `launcher:` key), and the component tests supply a fake. The orchestration
(server.py, fleet.py, adoption.py) reaches processes and containers only through these.

A launcher that cannot create the workload at all (an image that is missing, an engine that
is down) raises errors.LaunchError naming which, promptly: never a hang.

The rule every implementation keeps: **a start never loses track of what it created.** If
`start` is cancelled (stop() during a start), either nothing was created yet, or the
implementation takes down what it created before the cancellation propagates. The process
launcher keeps this by having no await between fork and the returned handle; a launcher
that must await after creating something (a container) has to clean up in its own
`except CancelledError`.

Output (stdout and stderr) goes to the server's log file, appended; reading it back is
server_logs.py, the same for every launcher.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from supervisor.command import LaunchSpec
from supervisor.statefile import Record


class ServerHandle(Protocol):
    """One running server, started by us or adopted from a previous supervisor."""

    @property
    def pid(self) -> int:
        """The leader's pid: what the state file records and `modelyard ps` shows."""
        ...

    @property
    def container_id(self) -> str | None:
        """The container's id for a container; None for a process."""
        ...

    @property
    def exited(self) -> bool: ...

    @property
    def returncode(self) -> int | None:
        """The leader's exit code; None while it runs, and for an adopted process (only its
        parent could reap it; an adopted container's comes from the engine)."""
        ...

    async def wait(self) -> int | None:
        """Return once the leader has exited, with its exit code if known."""
        ...

    async def stop(self, grace: float) -> int | None:
        """Take the whole server down: ask, then force after `grace` seconds, and return once
        nothing of it is left. Safe when the leader already exited: what it left behind (vLLM's
        resource tracker outlives the leader and ignores SIGTERM) is killed all the same."""
        ...

    def members(self) -> list[int]:
        """Pids of its live members (the leader and what it forked)."""
        ...

    def rss_bytes(self) -> int:
        """Resident memory of all its members, for host-memory accounting."""
        ...


class Launcher(Protocol):
    async def start(self, spec: LaunchSpec, log_path: Path) -> ServerHandle:
        """Start `spec` with its output appended to `log_path` (see the rule above)."""
        ...

    async def adopt(self, record: Record, log_path: Path) -> ServerHandle | None:
        """A handle on a server a previous supervisor recorded, or None when it is gone or is
        no longer the recorded workload (a reused pid). Whether it still *serves* is the
        engine's question, asked by the caller."""
        ...

    async def sweep(self, keep: Sequence[ServerHandle]) -> list[str]:
        """After adoption: take down what this launcher made for this supervisor (and only for
        it) that is not in `keep`: a container left by a supervisor that died before recording
        it, or one not adopted. Returns a description of each. Never touches anyone else's."""
        ...

    async def close(self) -> None:
        """Release what the launcher holds (connections, watcher threads); servers are not
        stopped by this."""
        ...
