"""The supervisor's one error tree.

    SupervisorError
    ├── UnknownServerError   a name that servers.yaml does not declare
    ├── StartFailedError     a server exited, or never became healthy, while starting
    ├── LaunchError          the launcher could not create it (image missing, engine down)
    ├── NoFreePortError      the configured port range is used up
    ├── CapacityError        no room for a server before the queue's deadline (or ever)
    ├── StateDirInUseError   another live supervisor holds the state directory
    └── AdminUnreachableError  the CLI or proxy could not talk to the supervisor

Foreign exceptions (OSError, httpx, pydantic) are translated into these once, where they
happen, so callers above handle only this tree.
"""

from __future__ import annotations

from pathlib import Path


class SupervisorError(Exception):
    """Base of every error the supervisor raises on purpose."""


class UnknownServerError(SupervisorError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown server {name!r}")


class StartFailedError(SupervisorError):
    """Carries what an operator needs to see why: exit code and the log's last lines."""

    def __init__(self, name: str, reason: str, exit_code: int | None, log_tail: list[str]) -> None:
        self.name = name
        self.reason = reason
        self.exit_code = exit_code
        self.log_tail = log_tail
        super().__init__(f"server {name!r} failed to start: {reason}")


class LaunchError(SupervisorError):
    """A launcher could not create the server's workload at all: its image is missing and
    cannot be pulled, or the Docker engine is down or not answering. `reason` names which (the
    image, the engine's address); the server becomes `failed` with it, and the caller gets a
    StartFailedError carrying it (a 503 naming the cause, never a hang)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class AdminUnreachableError(SupervisorError):
    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        super().__init__(f"supervisor at {url} is unreachable: {detail}")


class NoFreePortError(SupervisorError):
    pass


class CapacityError(SupervisorError):
    """`retry_after` is None when waiting cannot help (the budget can never fit)."""

    def __init__(self, name: str, reason: str, retry_after: float | None) -> None:
        self.name = name
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(f"no room for {name!r}: {reason}")


class StateDirInUseError(SupervisorError):
    """Another live supervisor holds the state directory (a SupervisorError: the CLI reports
    it and exits non-zero)."""

    def __init__(self, state_dir: Path, holder: int | None) -> None:
        self.state_dir = state_dir
        self.holder = holder
        who = f"pid {holder}" if holder is not None else "a pid not yet written"
        super().__init__(
            f"state directory {state_dir} is in use by another modelyard supervisor ({who}); "
            "to run two on one machine, give each its own supervisor.state_dir (and its own "
            "supervisor.port, port_range and proxy.port)"
        )
