"""One owner for one server's lifecycle: callers say ensure() or stop(), never poke the state.

ensure() is single-flight: concurrent callers await one shared start task. stop() during a
start cancels that task and takes the process group down; the waiting callers then get a
StartFailedError saying so rather than a bare cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from supervisor import launchers
from supervisor.command import LaunchSpec
from supervisor.errors import StartFailedError
from supervisor.health import wait_ready
from supervisor.launchers import ProcessHandle
from supervisor.ports import PortAllocator
from supervisor.states import State, check_transition

log = logging.getLogger("modelyard.supervisor")


@dataclass(frozen=True)
class ServerContext:
    """What a server needs from its surroundings, passed in explicitly."""

    render: Callable[[str, int], LaunchSpec]  # (name, port) -> launch spec
    ports: PortAllocator
    http: httpx.AsyncClient
    log_dir: Path


class ManagedServer:
    def __init__(self, name: str, ctx: ServerContext) -> None:
        self.name = name
        self._ctx = ctx
        self._state = State.STOPPED
        self._handle: ProcessHandle | None = None
        self._spec: LaunchSpec | None = None
        self._port: int | None = None
        self._start_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._stop_lock = asyncio.Lock()
        self._started_at: float | None = None
        self._ready_at: float | None = None
        self._failure: StartFailedError | None = None
        self.starts = 0
        self.log_path = ctx.log_dir / f"{name}.log"

    @property
    def state(self) -> State:
        return self._state

    def _set(self, target: State) -> None:
        check_transition(self._state, target)
        log.info("%s: %s -> %s", self.name, self._state, target)
        self._state = target

    async def ensure(self) -> None:
        """Return once the server is ready; raise StartFailedError if it cannot be."""
        while self._stop_lock.locked():  # a stop in progress finishes before a new start
            async with self._stop_lock:
                pass
        if self._state is State.READY:
            return
        if self._start_task is None:
            self._start_task = asyncio.create_task(self._start(), name=f"start:{self.name}")
        task = self._start_task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                raise StartFailedError(self.name, "stopped while starting", None, []) from None
            raise

    async def _start(self) -> None:
        try:
            self._set(State.STARTING)
            self._failure = None
            self._port = self._ctx.ports.acquire(self.name)
            self._spec = spec = self._ctx.render(self.name, self._port)
            self._started_at, self._ready_at = time.time(), None
            self.starts += 1
            self._handle = handle = launchers.spawn(spec, self.log_path)
            reason = await wait_ready(self._ctx.http, handle, spec.health_url, spec.startup_timeout)
            if reason is None:
                self._set(State.READY)
                self._ready_at = time.time()
                self._watch_task = asyncio.create_task(self._watch(handle))
                return
            self._fail(reason)
            await launchers.terminate(handle, spec.stop_grace)
            self._release_port()
            assert self._failure is not None
            raise self._failure
        finally:
            self._start_task = None

    def _fail(self, reason: str) -> None:
        handle = self._handle
        exit_code = handle.returncode if handle else None
        tail = launchers.log_tail(self.log_path)
        self._failure = StartFailedError(self.name, reason, exit_code, tail)
        self._set(State.FAILED)
        log.warning("%s failed: %s", self.name, reason)

    async def _watch(self, handle: ProcessHandle) -> None:
        code = await handle.wait()
        if self._state is State.READY and self._handle is handle:
            self._fail(f"exited with code {code} while ready")
            self._release_port()

    def _release_port(self) -> None:
        self._ctx.ports.release(self._port)
        self._port = None

    async def stop(self) -> None:
        """Take the whole process group down; safe to call in any state, and twice."""
        async with self._stop_lock:
            if self._state is State.STOPPED:
                return
            if self._state in (State.STARTING, State.READY):
                self._set(State.STOPPING)
            task, self._start_task = self._start_task, None
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StartFailedError):
                    await task
            if self._watch_task is not None:
                self._watch_task.cancel()
                self._watch_task = None
            if self._handle is not None and self._spec is not None:
                await launchers.terminate(self._handle, self._spec.stop_grace)
            self._set(State.STOPPED)  # from stopping, or straight from failed
            self._release_port()
            self._handle = None

    def snapshot(self, memory: bool = True) -> dict[str, Any]:
        """State for the API. `memory=False` skips the process-table scan (milliseconds) that
        measuring the group's RSS costs: ensure() answers on every proxied request."""
        handle, spec = self._handle, self._spec
        alive = handle is not None and handle.returncode is None
        now = time.time()
        failure = self._failure if self._state is State.FAILED else None
        return {
            "name": self.name,
            "state": str(self._state),
            "pid": handle.pid if alive and handle else None,
            "port": self._port,
            "base_url": spec.base_url if spec and self._port else None,
            "started_at": self._started_at if alive else None,
            "ready_at": self._ready_at if self._state is State.READY else None,
            "uptime_s": round(now - self._started_at, 3) if alive and self._started_at else None,
            "memory_bytes": (launchers.group_rss_bytes(handle.pgid) if alive and handle else 0)
            if memory
            else None,
            "starts": self.starts,
            "exit_code": failure.exit_code if failure else None,
            "reason": failure.reason if failure else None,
            "log_tail": failure.log_tail if failure else [],
            "log_path": str(self.log_path),
        }
