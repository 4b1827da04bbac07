"""One container server (launcher.ServerHandle): its output copied into the server's log file,
its exit noticed, and the container removed once it has exited.

One daemon thread per container (the watcher) owns its end. It follows the container's output
(`logs(follow=True)`) and appends each chunk to the server's log file, opened afresh for every
write, so a log rotated by copy-and-truncate, or renamed away, is written where readers look.
That stream ends when the container stops; `wait` then gives the exit code at once. Only then,
every line of output being in the file, is the container removed and the exit reported to the
loop: a failure's log tail holds the last lines, and a restart never meets a stale container.
stop() only asks the engine to stop it, then waits for the watcher; it reads the code and
removes the container itself only when the watcher is gone (close()) or stuck past api_timeout.

Why the log stream and `wait`, not the events stream or a poll: the output must be followed
anyway, the engine answers `wait` the moment the container stops, and nothing can be missed
(`wait` on a container that already stopped answers at once), where an events subscription
opened after a quick exit misses it and a poll costs a request per second per server. The
stream also ends when its connection breaks (an engine restart): so an end is confirmed with a
`wait` bounded to SETTLE_S, and a container still running is followed again from the last
chunk's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import docker
import psutil

from supervisor.docker_client import DockerEngine
from supervisor.errors import LaunchError

log = logging.getLogger("modelyard.supervisor")

SETTLE_S = 5.0  # a stopped container's `wait` answers at once: past this it still runs
RETRY_S = 1.0  # between attempts while the engine cannot be reached (no busy loop)
_RUNNING = object()  # _exit_code(): the container has not stopped (or the engine is away)


class ContainerHandle:
    """A container this supervisor started or adopted. `since`: follow its output from that
    time (an adopted one: what the previous supervisor already wrote is not copied twice);
    None: from its start."""

    def __init__(
        self,
        engine: DockerEngine,
        client: Any,
        container_id: str,
        name: str,
        pid: int,
        log_path: Path,
        since: float | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._engine = engine
        self._client = client
        self._id = container_id
        self._pid = pid
        self._loop = asyncio.get_running_loop()
        self._exited = asyncio.Event()
        self._code: int | None = None
        self._finished = False
        self._lock = threading.Lock()  # _finished, _stream: the watcher and the loop
        self._stream: Any = None
        self._closing = threading.Event()
        self._noted: set[str] = set()
        self._watcher = threading.Thread(
            target=self._watch, args=(since,), name=f"modelyard-docker: {name}", daemon=True
        )
        self._watcher.start()

    # -- ServerHandle -------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        """The container's init process as the host sees it (0 once it has stopped)."""
        return self._pid

    @property
    def container_id(self) -> str:
        return self._id

    @property
    def exited(self) -> bool:
        return self._exited.is_set()

    @property
    def returncode(self) -> int | None:
        return self._code if self.exited else None

    async def wait(self) -> int | None:
        await self._exited.wait()
        return self._code

    async def stop(self, grace: float) -> int | None:
        """Ask the engine to stop it (SIGTERM, SIGKILL after `grace`), then let the watcher
        drain its output, read the exit code and remove it. An engine that cannot be reached
        leaves it behind: logged, and the handle counts as ended (the next start of this
        server, or the next supervisor's sweep, removes it)."""
        if self.exited:
            return self._code
        seconds = max(0, math.ceil(grace))
        try:
            await self._engine.call(lambda c: c.api.stop(self._id, timeout=seconds), "stop")
        except docker.errors.NotFound:
            pass  # gone already: the watcher reports it
        except docker.errors.APIError as exc:
            log.warning("%s: the engine refused to stop container %s: %s", self.name, self, exc)
        except LaunchError as exc:
            log.error("%s: container %s may still run: %s", self.name, self, exc.reason)
            self._finish(None)
            return None
        if self._watcher.is_alive():
            try:
                async with asyncio.timeout(self._engine.api_timeout):
                    await self._exited.wait()
                return self._code
            except TimeoutError:
                log.warning("%s: container %s did not report its end", self.name, self)
        # No watcher (close() ended it) or a stuck one: read the code and remove it here.
        code: object = None
        with contextlib.suppress(LaunchError):
            code = await self._engine.call(lambda c: self._end(), "wait and remove")
        self._finish(code if isinstance(code, int) else None)
        return self._code

    def members(self) -> list[int]:
        """Host pids of its init and what that forked; [] when it has stopped, or when that pid
        is not this container's here (a supervisor in a container of its own, in another pid
        namespace, sees other processes under the engine's pids)."""
        if self.exited or self._pid <= 0:
            return []
        try:
            leader = psutil.Process(self._pid)
            if self._id not in Path(f"/proc/{self._pid}/cgroup").read_text():
                return []
            procs = [leader, *leader.children(recursive=True)]
        except (psutil.Error, OSError):
            return []
        live = []
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    live.append(proc.pid)
        return live

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.members():
            with contextlib.suppress(psutil.Error):
                total += psutil.Process(pid).memory_info().rss
        return total

    # -- the launcher's -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop watching (the supervisor is leaving; the container keeps running). Closing the
        stream's socket wakes the watcher from its read."""
        self._closing.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            with contextlib.suppress(OSError, docker.errors.DockerException):
                stream.close()

    def __str__(self) -> str:
        return self._id[:12]

    # -- the watcher thread -------------------------------------------------------------------

    def _watch(self, since: float | None) -> None:
        try:
            self._follow(since)
        except Exception:  # a thread's top: it would end silently and no exit be reported
            log.exception("%s: watching container %s failed", self.name, self)

    def _follow(self, since: float | None) -> None:
        while not self._closing.is_set():
            began = time.monotonic()
            since = self._copy_output(since)
            if self._closing.is_set():
                return
            code = self._exit_code()
            if code is not _RUNNING:
                self._remove()
                self._finish(code if isinstance(code, int) else None)
                return
            if time.monotonic() - began < RETRY_S:
                self._closing.wait(RETRY_S)

    def _copy_output(self, since: float | None) -> float | None:
        """Append its output to the log file until the stream ends; returns when to resume."""
        opened = time.time()
        try:
            stream = self._client.api.logs(
                self._id, stream=True, follow=True, stdout=True, stderr=True, since=since
            )
        except docker.errors.NotFound:
            return since
        except docker.errors.APIError as exc:  # a logging driver that cannot be read back
            self._note(f"its output cannot be read from the engine: {exc.explanation}")
            return since
        except (OSError, docker.errors.DockerException):
            return since  # the engine is away: _exit_code cannot tell, and we try again
        with self._lock:
            self._stream = stream
        resume = since if since is not None else opened
        try:
            if not self._closing.is_set():
                for chunk in stream:
                    resume = time.time()
                    self._append(chunk)
        finally:
            with self._lock:
                self._stream = None
            with contextlib.suppress(OSError, docker.errors.DockerException):
                stream.close()
        return resume

    def _exit_code(self) -> object:
        """The exit code once it stopped; None when it vanished (removed by someone else, its
        code with it); _RUNNING while it runs or the engine cannot say."""
        try:
            result = self._client.api.wait(self._id, timeout=SETTLE_S)
        except docker.errors.NotFound:
            return None
        except (OSError, docker.errors.DockerException):  # timed out: it runs; or unreachable
            return _RUNNING
        code = result.get("StatusCode")
        return int(code) if code is not None else None

    def _end(self) -> object:
        """Once stopped: its exit code (as _exit_code), and the container removed."""
        code = self._exit_code()
        self._remove()
        return code

    def _remove(self) -> None:
        try:
            self._client.api.remove_container(self._id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: a removal already under way
                log.warning("%s: container %s was not removed: %s", self.name, self, exc)
        except (OSError, docker.errors.DockerException) as exc:
            log.warning(
                "%s: container %s was not removed (%s); the next start or sweep removes it",
                self.name,
                self,
                exc,
            )

    def _append(self, data: bytes) -> None:
        try:
            with self.log_path.open("ab") as out:
                out.write(data)
        except FileNotFoundError:  # its folder was removed: make it again
            with contextlib.suppress(OSError):
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with self.log_path.open("ab") as out:
                    out.write(data)
        except OSError as exc:  # a full disk: drop the chunk, keep watching for the exit
            if "write" not in self._noted:
                self._noted.add("write")
                log.warning("%s: cannot write %s: %s", self.name, self.log_path, exc)

    def _note(self, line: str) -> None:
        """A line of our own in the server's log, once per kind."""
        if line not in self._noted:
            self._noted.add(line)
            self._append(f"=== modelyard: container {self}: {line}\n".encode())

    def _finish(self, code: int | None) -> None:
        """Record the end once (from the watcher or from stop()) and wake the loop's waiters."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._code = code
        self.close()  # the watcher's work is over, whoever finished it
        if self._in_loop():
            self._exited.set()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._exited.set)

    def _in_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False
