"""The process launcher (launcher.Launcher): the only code that starts or kills processes.

Each server runs in its own session, so its process group (vLLM's API server plus any engine
core it forks) is stopped as one: SIGTERM to the group, SIGKILL after the grace period, then a
check that no member is left. Process exit is observed through a pidfd registered with the event
loop, so an exit is noticed the moment it happens, not at the next health poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from supervisor import server_logs, statefile
from supervisor.child_env import child_env
from supervisor.command import LaunchSpec
from supervisor.launcher import ServerHandle
from supervisor.statefile import Record


class ProcessHandle:
    """A server process: its pid, its group, and an awaitable exit.

    Either our own child (`popen`, reaped here, exit code known) or a group adopted from a
    previous supervisor (no exit code: only its parent, now init, can reap it).
    """

    def __init__(self, pid: int, log_path: Path, popen: subprocess.Popen[bytes] | None = None):
        self.pid = pid
        self.pgid = pid  # start_new_session makes the child its group's leader
        self.log_path = log_path
        self._popen = popen
        self._exited = asyncio.Event()
        self._pidfd = os.pidfd_open(pid)
        asyncio.get_running_loop().add_reader(self._pidfd, self._on_exit)

    def _on_exit(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        if self._popen is not None:
            self._popen.poll()  # reap, so no zombie is left and the exit code is known
        self._exited.set()

    container_id: str | None = None  # a process, not a container

    @property
    def returncode(self) -> int | None:
        if self._popen is None or not self._exited.is_set():
            return None
        return self._popen.returncode

    @property
    def exited(self) -> bool:
        return self._exited.is_set()

    async def wait(self) -> int | None:
        await self._exited.wait()
        return self.returncode

    async def stop(self, grace: float) -> int | None:
        return await terminate(self, grace)

    def members(self) -> list[int]:
        return [p.pid for p in group_members(self.pgid)]

    def rss_bytes(self) -> int:
        return group_rss_bytes(self.pgid)


class ProcessLauncher:
    """Runs each server as a local process group. `env_passthrough`: names (a trailing `*` is a
    prefix) of the supervisor's environment a server gets beyond child_env's built-in list."""

    def __init__(self, env_passthrough: Sequence[str] = ()) -> None:
        self._passthrough = tuple(env_passthrough)

    async def start(self, spec: LaunchSpec, log_path: Path) -> ProcessHandle:
        return spawn(spec, log_path, self._passthrough)  # no await: see spawn()

    async def adopt(self, record: Record, log_path: Path) -> ProcessHandle | None:
        if not statefile.still_running(record):
            return None
        return ProcessHandle(record.pid, log_path)

    async def sweep(self, keep: Sequence[ServerHandle]) -> list[str]:
        """Nothing to do: a process this supervisor's predecessor started is known only from
        its record, and adoption stops every recorded one it does not adopt."""
        return []

    async def close(self) -> None:
        pass


def spawn(spec: LaunchSpec, log_path: Path, env_passthrough: Sequence[str] = ()) -> ProcessHandle:
    """Start `spec.argv` in a new session with output appended to its log file, with the
    environment child_env allows (not the supervisor's whole one) and `spec.env` on top.

    Synchronous on purpose: there is no await between fork and the returned handle, so a
    cancelled start can never lose track of a process it created. The log is opened O_APPEND,
    so the child writes at the file's end even after server_logs.rotate truncates it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(server_logs.banner(spec))
        log.flush()
        popen = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(os.environ, env_passthrough, spec.env),
            start_new_session=True,
            close_fds=True,
        )
    return ProcessHandle(popen.pid, log_path, popen)


def group_members(pgid: int) -> list[psutil.Process]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def terminate(handle: ProcessHandle, grace: float) -> int | None:
    """SIGTERM the whole group, SIGKILL what is left after `grace` seconds; wait until empty."""
    deadline = time.monotonic() + grace
    _signal_group(handle.pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(handle.wait(), timeout=grace)
    while group_members(handle.pgid) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if group_members(handle.pgid) or not handle.exited:
        _signal_group(handle.pgid, signal.SIGKILL)
        await handle.wait()
        kill_deadline = time.monotonic() + 5.0
        while group_members(handle.pgid) and time.monotonic() < kill_deadline:
            await asyncio.sleep(0.05)
    return handle.returncode


def group_rss_bytes(pgid: int) -> int:
    total = 0
    for proc in group_members(pgid):
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total
