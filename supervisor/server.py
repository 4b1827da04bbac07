"""One owner for one server's lifecycle: callers say ensure(), sleep() or stop(), never poke
the state.

Every transition (start, wake, sleep) runs as one shared task, so concurrent callers await the
same work: ensure() is single-flight. Memory is claimed through the fleet's `admit` before a
start or a wake, inside the fleet's capacity lock, and the claim is the state change itself
(STARTING/WAKING with a placement), so two admissions can never count the same free memory.
stop() during a start or a wake cancels it and takes the server down; waiting callers then
get a StartFailedError saying so rather than a bare cancellation.

ManagedServer is also the only writer of its own fields: others read them through read-only
properties (mypy rejects an assignment) and report what they saw through methods
(observe_healthy, count_restart, adopt; pin and observe_load on its `usage`). The snapshot
and the state-file record are views of it (server_views.py). Its process and its engine are
reached only through the seams in its context (launcher.Launcher, engine.Engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from modelyard_config.servers import Tier
from supervisor import redact, server_logs
from supervisor.command import LaunchSpec
from supervisor.engine import EngineCallError
from supervisor.errors import LaunchError, StartFailedError
from supervisor.health import wait_ready
from supervisor.launcher import ServerHandle
from supervisor.server_context import ServerContext
from supervisor.statefile import Record
from supervisor.states import State, check_transition
from supervisor.usage import Usage

log = logging.getLogger("modelyard.supervisor")

# A server alive in one of these states that exits on its own has crashed.
_LIVE = frozenset({State.READY, State.ASLEEP, State.SLEEPING, State.WAKING})


class ManagedServer:
    def __init__(self, name: str, tier: Tier, ctx: ServerContext) -> None:
        self.name: Final = name
        self.tier: Final = tier
        self.log_path: Final = ctx.log_dir / f"{name}.log"
        self._ctx = ctx
        self._launcher = ctx.launcher  # per server: a container launcher can sit beside it
        self._engine = ctx.engine
        self._state = State.STOPPED
        self.usage: Final = Usage(pinned=tier == "hot")
        self._devices: tuple[str, ...] = ()
        self._starts = 0
        self._restarts = 0
        self._handle: ServerHandle | None = None
        self._spec: LaunchSpec | None = None
        self._port: int | None = None
        self._op: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stop_lock = asyncio.Lock()
        self._started_at: float | None = None
        self._ready_at: float | None = None
        self._failure: StartFailedError | None = None
        self._sleep_level: int | None = None  # what the last sleep (or adopt) left it at

    # -- what others read ---------------------------------------------------------------------

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
    def devices(self) -> tuple[str, ...]:
        """Where its memory is claimed; () when it holds none."""
        return self._devices

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def pid(self) -> int | None:
        """The live leader's pid; None when nothing runs."""
        handle = self._handle
        return handle.pid if handle is not None and not handle.exited else None

    def members(self) -> list[int]:
        """Pids of what runs now, as this machine sees them ([] when nothing does): what NVML's
        per-process readings are summed over for the server's GPU memory."""
        handle = self._handle
        return handle.members() if handle is not None and not handle.exited else []

    @property
    def container_id(self) -> str | None:
        """The container it runs in (`launcher: docker`); None for a process or when stopped."""
        handle = self._handle
        return handle.container_id if handle is not None and not handle.exited else None

    def rss_bytes(self) -> int:
        """Resident memory of what runs now (0 when nothing does): a process-table scan."""
        handle = self._handle
        return handle.rss_bytes() if handle is not None and not handle.exited else 0

    @property
    def started_at(self) -> float | None:
        """time.time() its current process started; None when nothing runs."""
        return self._started_at if self.pid is not None else None

    @property
    def uptime_s(self) -> float | None:
        started = self.started_at
        return time.time() - started if started else None

    @property
    def ready_at(self) -> float | None:
        """time.time() it last became ready (or was adopted)."""
        return self._ready_at

    @property
    def failure(self) -> StartFailedError | None:
        """Why it is failed; None in any other state."""
        return self._failure if self._state is State.FAILED else None

    @property
    def sleep_level(self) -> int | None:
        """1: asleep with its weights in host RAM; 2: asleep with them dropped (its wake
        reloads them); None when not asleep."""
        return self._sleep_level if self._state is State.ASLEEP else None

    @property
    def in_transition(self) -> bool:
        """A start, wake or sleep is under way or waiting for memory: an asleep server with one
        is being woken for someone, not idling (the monitor leaves it alone)."""
        return self._op is not None

    @property
    def starts(self) -> int:
        return self._starts

    @property
    def restarts(self) -> int:
        """Restarts in a row after crashes or failed health checks (the backoff's attempt)."""
        return self._restarts

    # -- what others report -------------------------------------------------------------------

    def observe_healthy(self, stable_after: float) -> None:
        """A health probe passed. Once it has run `stable_after` seconds since its last
        (re)start it has recovered: its restart count, and so its backoff, starts from zero."""
        if self._restarts and (self.uptime_s or 0) >= stable_after:
            self._restarts = 0

    def count_restart(self) -> int:
        """One more restart in a row; returns its number (1 for the first)."""
        self._restarts += 1
        return self._restarts

    # -- transitions --------------------------------------------------------------------------

    def _set(self, target: State) -> None:
        check_transition(self._state, target)
        log.info("%s: %s -> %s", self.name, self._state, target)
        self._state = target
        self._ctx.changed(self)

    # -- ensure: start or wake, single-flight ------------------------------------------------

    async def ensure(self) -> None:
        """Return once the server is ready; raise StartFailedError (or a capacity error)."""
        while True:
            while self._stop_lock.locked():  # a stop in progress finishes before a new start
                async with self._stop_lock:
                    pass
            if self._state is State.READY:
                self.usage.touch()
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
            self._spec = spec = self._ctx.render(self.name, self._port, self._devices)
            self._started_at, self._ready_at = time.time(), None
            self._starts += 1
            self._handle = handle = await self._launcher.start(spec, self.log_path)
            self._ctx.changed(self)
            reason = await wait_ready(self._engine, handle, spec.health_url, spec.startup_timeout)
        except LaunchError as exc:  # nothing was created: failed, naming why, claim given back
            self._fail(exc.reason)
            self._release()
            assert self._failure is not None
            raise self._failure from exc
        except BaseException:
            if self._handle is None and self._state is State.STARTING:
                self._set(State.STOPPING)  # nothing was started: give the claim back
                self._set(State.STOPPED)
                self._release()
            raise
        if reason is None:
            self._ready_at = time.time()
            self._set(State.READY)
            self.usage.touch()
            self._watch = asyncio.create_task(self._watch_exit(handle))
            return
        self._fail(reason)
        await self._take_down(handle)
        self._release()
        assert self._failure is not None
        raise self._failure

    def _claim_for_start(self, devices: tuple[str, ...]) -> None:
        self._devices = devices
        self._set(State.STARTING)

    async def _wake(self) -> None:
        await self._ctx.admit(self, lambda devices: self._set(State.WAKING))
        await self._engine_wake()
        self._set(State.READY)
        self.usage.touch()

    async def _engine_wake(self) -> None:
        """WAKING: the engine brings back what its sleep level left (a reload after level 2)."""
        assert self.base_url is not None
        try:
            await self._engine.wake(self.base_url, self._sleep_level or 1)
        except EngineCallError as exc:
            self._fail(f"wake failed: {exc}")
            await self.stop()
            raise StartFailedError(self.name, f"wake failed: {exc}", None, []) from exc
        self._sleep_level = None

    # -- sleep --------------------------------------------------------------------------------

    async def sleep(self, level: int = 1) -> None:
        """READY -> ASLEEP at `level` through the engine's sleep mode; stays READY if the engine
        refuses. An asleep server only ever goes deeper: asked for its level or a lighter one,
        nothing happens; a level-1 sleeper asked for level 2 is woken and put to sleep again
        (_deepen). Raises EngineCallError when it cannot sleep, or when the devices showed its
        memory still held afterwards (it is then stopped: sleep_check)."""
        if level not in (1, 2):
            raise ValueError(f"sleep level {level}: vLLM's levels are 1 and 2")
        if self._state is State.ASLEEP and level <= (self._sleep_level or 1):
            return
        while self._op is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._op)
        if self._state is State.ASLEEP and level > (self._sleep_level or 1):
            work = self._deepen(level)
        elif self._state is State.READY:
            work = self._sleep(level)
        elif self._state is State.ASLEEP:
            return  # went as deep meanwhile
        else:
            raise EngineCallError(f"{self.name} is {self._state}, not ready: cannot sleep")
        self._op = asyncio.create_task(work, name=f"sleep:{self.name}")
        self._op.add_done_callback(self._op_done)
        await asyncio.shield(self._op)

    async def _deepen(self, level: int) -> None:
        """ASLEEP -> WAKING -> READY -> SLEEPING -> ASLEEP at a deeper level. vLLM ignores a
        sleep while asleep (vllm_api.py), so the host copy of a level-1 sleeper's weights goes
        only through a wake: it claims its GPU memory for that moment like any wake, through
        the fleet's admission. It is not a use: the idle clock that demoted it keeps running,
        and no request can reach it between READY and SLEEPING (no await between them)."""
        await self._ctx.admit(self, lambda devices: self._set(State.WAKING))
        await self._engine_wake()
        self._set(State.READY)
        await self._sleep(level)

    async def _sleep(self, level: int) -> None:
        assert self.base_url is not None
        self._set(State.SLEEPING)
        freed = self._ctx.sleep_check(self) if self._ctx.sleep_check is not None else None
        try:
            await self._engine.sleep(self.base_url, level)
        except EngineCallError:
            if self._state is State.SLEEPING:
                self._set(State.READY)
            raise
        if freed is not None and not freed():
            # Not asleep whatever the engine said: stopping frees the memory for sure.
            await self.stop()
            raise EngineCallError(f"{self.name} still held its GPU memory after sleeping")
        self._sleep_level = level
        self._set(State.ASLEEP)

    # -- exits, failures, stop ----------------------------------------------------------------

    def _fail(self, reason: str) -> None:
        handle = self._handle
        exit_code = handle.returncode if handle is not None else None
        tail = server_logs.tail(self.log_path)
        if self._spec is not None:  # the server may print its own arguments (vLLM does)
            secrets = redact.secret_values(self._spec.argv, self._spec.env)
            tail = [redact.scrub(line, secrets) for line in tail]
        self._failure = StartFailedError(self.name, reason, exit_code, tail)
        self._set(State.FAILED)
        log.warning("%s failed: %s", self.name, reason)

    async def _watch_exit(self, handle: ServerHandle) -> None:
        code = await handle.wait()
        async with self._stop_lock:  # ensure() waits for the leftovers to be gone
            crashed = self._handle is handle and self._state in _LIVE
            if crashed:
                # Failed at once: its address must not be handed out while what it forked is
                # taken down below, which may take the whole stop_grace.
                self._fail(f"exited with code {code} while {self._state}")
            if handle.members():
                # The leader died on its own (kill -9, a crash): what it forked would outlive
                # it, multiprocessing's resource tracker among them, which ignores SIGTERM.
                await self._take_down(handle)
            if crashed:
                self._release()  # only now: the leftovers held its memory and its port
                self._ctx.exited(self)

    async def fail(self, reason: str) -> None:
        """Declare a live server broken (it stopped answering): take it down, keep FAILED."""
        if self._state not in (State.READY, State.ASLEEP):
            return
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._fail(reason)
        if self._handle is not None:
            await self._take_down(self._handle)
        self._release()

    async def _take_down(self, handle: ServerHandle) -> None:
        await handle.stop(self._spec.stop_grace if self._spec else 10)

    def _release(self) -> None:
        self._ctx.ports.release(self._port)
        self._port = None
        self._devices = ()

    async def stop(self) -> None:
        """Take the whole server down; safe to call in any state, and twice."""
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
                await self._take_down(self._handle)
            self._set(State.STOPPED)  # from stopping, or straight from failed
            self._release()
            self._handle = None

    def adopt(self, handle: ServerHandle, spec: LaunchSpec, record: Record) -> None:
        """Take over a server a previous supervisor started and recorded (restart safety).
        Not a start: `starts` stays 0 and no load is counted; it moves straight from STOPPED."""
        target = State.ASLEEP if record.asleep else State.READY
        check_transition(self._state, target)  # before anything changes: a bug leaves no trace
        self._sleep_level = (record.sleep_level or 1) if record.asleep else None
        self._ctx.ports.reserve(record.port, self.name)
        self._handle, self._spec, self._port = handle, spec, record.port
        self._devices = tuple(record.devices)
        self._started_at, self._ready_at = record.started_at, time.time()
        self._set(target)
        self._watch = asyncio.create_task(self._watch_exit(handle))
