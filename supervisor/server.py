"""One owner for one server's lifecycle: callers say ensure(), sleep() or stop(), never poke
the state.

Every transition (start, wake, sleep) runs as one shared task, so concurrent callers await the
same work: ensure() is single-flight. Memory is claimed through the fleet's `admit` before a
start or a wake, inside the fleet's capacity lock, and the claim is the state change itself
(STARTING/WAKING with a placement), so two admissions can never count the same free memory.
stop() during a start or a wake cancels it and takes the process group down; waiting callers
then get a StartFailedError saying so rather than a bare cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from modelyard_config.servers import Tier
from supervisor import launchers, statefile, vllm_api
from supervisor.command import LaunchSpec
from supervisor.errors import StartFailedError
from supervisor.health import wait_ready
from supervisor.launchers import ProcessHandle
from supervisor.ports import PortAllocator
from supervisor.states import State, check_transition
from supervisor.vllm_api import EngineCallError

log = logging.getLogger("modelyard.supervisor")

# Placement -> memory claimed; the fleet calls it inside its capacity lock.
OnAdmit = Callable[[tuple[str, ...]], None]
HOLDS_MEMORY = frozenset({State.STARTING, State.READY, State.SLEEPING, State.WAKING})


@dataclass(frozen=True)
class ServerContext:
    """What a server needs from its surroundings, passed in explicitly."""

    render: Callable[[str, int, tuple[str, ...]], LaunchSpec]  # (name, port, devices)
    ports: PortAllocator
    http: httpx.AsyncClient
    log_dir: Path
    admit: Callable[[ManagedServer, OnAdmit], Awaitable[None]]
    changed: Callable[[ManagedServer], None]  # after every transition
    exited: Callable[[ManagedServer], None]  # the process died on its own


class ManagedServer:
    def __init__(self, name: str, tier: Tier, ctx: ServerContext) -> None:
        self.name = name
        self.tier = tier
        self.pinned = tier == "hot"
        self.devices: tuple[str, ...] = ()
        self.last_used = time.monotonic()
        self.in_flight = 0
        self.served = -1
        self.starts = 0
        self.restarts = 0
        self.log_path = ctx.log_dir / f"{name}.log"
        self._ctx = ctx
        self._state = State.STOPPED
        self._handle: ProcessHandle | None = None
        self._spec: LaunchSpec | None = None
        self._port: int | None = None
        self._op: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stop_lock = asyncio.Lock()
        self._started_at: float | None = None
        self._ready_at: float | None = None
        self._failure: StartFailedError | None = None

    @property
    def state(self) -> State:
        return self._state

    @property
    def base_url(self) -> str | None:
        return self._spec.base_url if self._spec and self._port else None

    @property
    def spec(self) -> LaunchSpec | None:
        return self._spec

    @property
    def handle(self) -> ProcessHandle | None:
        return self._handle

    def _set(self, target: State) -> None:
        check_transition(self._state, target)
        log.info("%s: %s -> %s", self.name, self._state, target)
        self._state = target
        self._ctx.changed(self)

    def touch(self) -> None:
        self.last_used = time.monotonic()

    # -- ensure: start or wake, single-flight ------------------------------------------------

    async def ensure(self) -> None:
        """Return once the server is ready; raise StartFailedError (or a capacity error)."""
        while True:
            while self._stop_lock.locked():  # a stop in progress finishes before a new start
                async with self._stop_lock:
                    pass
            if self._state is State.READY:
                self.touch()
                return
            if self._op is None:
                work = self._wake() if self._state is State.ASLEEP else self._start()
                self._op = asyncio.create_task(work, name=f"{self._state}:{self.name}")
                self._op.add_done_callback(self._op_done)
            task = self._op
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if task.cancelled() and not (current and current.cancelling()):
                    raise StartFailedError(self.name, "stopped while starting", None, []) from None
                raise
            except EngineCallError:
                pass  # a concurrent sleep failed and left it serving: loop and look again

    def _op_done(self, task: asyncio.Task[None]) -> None:
        if self._op is task:
            self._op = None

    async def _start(self) -> None:
        await self._ctx.admit(self, self._claim_for_start)
        self._handle = None
        try:
            self._failure = None
            self._port = self._ctx.ports.acquire(self.name)
            self._spec = spec = self._ctx.render(self.name, self._port, self.devices)
            self._started_at, self._ready_at = time.time(), None
            self.starts += 1
            self._handle = handle = launchers.spawn(spec, self.log_path)
            self._ctx.changed(self)
            reason = await wait_ready(self._ctx.http, handle, spec.health_url, spec.startup_timeout)
        except BaseException:
            if self._handle is None and self._state is State.STARTING:
                self._set(State.STOPPING)  # nothing was spawned: give the claim back
                self._set(State.STOPPED)
                self._release()
            raise
        if reason is None:
            self._ready_at = time.time()
            self._set(State.READY)
            self.touch()
            self._watch = asyncio.create_task(self._watch_exit(handle))
            return
        self._fail(reason)
        await launchers.terminate(handle, spec.stop_grace)
        self._release()
        assert self._failure is not None
        raise self._failure

    def _claim_for_start(self, devices: tuple[str, ...]) -> None:
        self.devices = devices
        self._set(State.STARTING)

    async def _wake(self) -> None:
        await self._ctx.admit(self, lambda devices: self._set(State.WAKING))
        assert self.base_url is not None
        try:
            await vllm_api.wake(self._ctx.http, self.base_url)
        except EngineCallError as exc:
            self._fail(f"wake failed: {exc}")
            await self.stop()
            raise StartFailedError(self.name, f"wake failed: {exc}", None, []) from exc
        self._set(State.READY)
        self.touch()

    # -- sleep --------------------------------------------------------------------------------

    async def sleep(self) -> None:
        """READY -> ASLEEP through vLLM's sleep mode; stays READY if vLLM refuses."""
        if self._state is State.ASLEEP:
            return
        while self._op is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._op)
        if self._state is not State.READY:
            raise EngineCallError(f"{self.name} is {self._state}, not ready: cannot sleep")
        self._op = asyncio.create_task(self._sleep(), name=f"sleep:{self.name}")
        self._op.add_done_callback(self._op_done)
        await asyncio.shield(self._op)

    async def _sleep(self) -> None:
        assert self.base_url is not None
        self._set(State.SLEEPING)
        try:
            await vllm_api.sleep(self._ctx.http, self.base_url)
        except EngineCallError:
            if self._state is State.SLEEPING:
                self._set(State.READY)
            raise
        self._set(State.ASLEEP)

    # -- exits, failures, stop ----------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        handle = self._handle
        exit_code = handle.returncode if handle else None
        tail = launchers.log_tail(self.log_path)
        self._failure = StartFailedError(self.name, reason, exit_code, tail)
        self._set(State.FAILED)
        log.warning("%s failed: %s", self.name, reason)

    async def _watch_exit(self, handle: ProcessHandle) -> None:
        code = await handle.wait()
        if launchers.group_members(handle.pgid):
            # The leader died on its own (kill -9, a crash): what it forked would outlive it,
            # multiprocessing's resource tracker among them, which ignores SIGTERM.
            await launchers.terminate(handle, self._spec.stop_grace if self._spec else 10)
        if self._handle is handle and self._state in (
            State.READY,
            State.ASLEEP,
            State.SLEEPING,
            State.WAKING,
        ):
            self._fail(f"exited with code {code} while {self._state}")
            self._release()
            self._ctx.exited(self)

    async def fail(self, reason: str) -> None:
        """Declare a live server broken (it stopped answering): kill its group, keep FAILED."""
        if self._state not in (State.READY, State.ASLEEP):
            return
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._fail(reason)
        if self._handle is not None:
            await launchers.terminate(self._handle, self._spec.stop_grace if self._spec else 10)
        self._release()

    def _release(self) -> None:
        self._ctx.ports.release(self._port)
        self._port = None
        self.devices = ()

    async def stop(self) -> None:
        """Take the whole process group down; safe to call in any state, and twice."""
        async with self._stop_lock:
            if self._state is State.STOPPED:
                return
            if self._state is not State.FAILED:
                self._set(State.STOPPING)
            task, self._op = self._op, None
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._watch is not None:
                self._watch.cancel()
                self._watch = None
            if self._handle is not None:
                await launchers.terminate(self._handle, self._spec.stop_grace if self._spec else 10)
            self._set(State.STOPPED)  # from stopping, or straight from failed
            self._release()
            self._handle = None

    def adopt(
        self,
        handle: ProcessHandle,
        spec: LaunchSpec,
        port: int,
        devices: tuple[str, ...],
        started_at: float,
        asleep: bool,
    ) -> None:
        """Take over a group a previous supervisor started (restart safety)."""
        self._handle, self._spec, self._port, self.devices = handle, spec, port, devices
        self._started_at, self._ready_at = started_at, time.time()
        self._state = State.ASLEEP if asleep else State.READY
        self._ctx.changed(self)
        self._watch = asyncio.create_task(self._watch_exit(handle))

    # -- reporting ----------------------------------------------------------------------------

    def record(self) -> statefile.Record | None:
        """What a later supervisor needs to adopt this process; None when nothing runs."""
        handle, spec, port = self._handle, self._spec, self._port
        if handle is None or handle.exited or spec is None or port is None:
            return None
        return statefile.Record(
            name=self.name,
            pid=handle.pid,
            port=port,
            argv=spec.argv,
            devices=list(self.devices),
            started_at=self._started_at or time.time(),
            asleep=self._state is State.ASLEEP,
        )

    def snapshot(self, memory: bool = True) -> dict[str, Any]:
        """State for the API. `memory=False` skips the process-table scan (milliseconds) that
        measuring the group's RSS costs: ensure() answers on every proxied request."""
        handle = self._handle
        alive = handle is not None and not handle.exited
        now, mono = time.time(), time.monotonic()
        failure = self._failure if self._state is State.FAILED else None
        rss = launchers.group_rss_bytes(handle.pgid) if memory and alive and handle else 0
        return {
            "name": self.name,
            "state": str(self._state),
            "pid": handle.pid if alive and handle else None,
            "port": self._port,
            "base_url": self.base_url,
            "tier": self.tier,
            "pinned": self.pinned,
            "devices": list(self.devices),
            "in_flight": self.in_flight,
            "idle_s": round(mono - self.last_used, 1),
            "last_used": round(now - (mono - self.last_used), 3),
            "started_at": self._started_at if alive else None,
            "ready_at": self._ready_at if self._state is State.READY else None,
            "uptime_s": round(now - self._started_at, 3) if alive and self._started_at else None,
            "memory_bytes": rss if memory else None,
            "starts": self.starts,
            "restarts": self.restarts,
            "exit_code": failure.exit_code if failure else None,
            "reason": failure.reason if failure else None,
            "log_tail": failure.log_tail if failure else [],
            "log_path": str(self.log_path),
        }
