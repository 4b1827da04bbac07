"""The extra proxy processes of `proxy.workers`: started, watched and stopped by the process that
runs the first proxy (modelyard/stack.py), so that N event loops serve one port.

Why processes: one event loop serves requests one at a time, and measured under load on the
2-core box (issue 14) the proxy's loop was the busy one, 94% of a core at 8 clients, while
the rest of the machine had room. Each worker is `modelyard proxy --worker` on the same
config: the whole proxy, its own loop and memory, its socket bound with SO_REUSEPORT next to
the first proxy's, so the kernel spreads new connections over them. A worker listens only
once its app has started, so no connection waits in the backlog of one still loading.

How they live and end:
- each runs in a session of its own, so a Ctrl-C in the terminal reaches only this process,
  which passes the stop on: one SIGTERM to every worker when the drain begins (each drains as
  the first proxy does), a second one when a second signal forces the exit;
- a worker says it is ready with one line on its stdout; one that exits first stops the start
  (StartupError), one that exits later stops the stack (WorkerExitedError): a proxy that is
  short of a worker would answer a share of connections with refusals;
- its stdin is a pipe from this process: if this process dies without stopping them, the pipe
  closes and each worker stops on its own (run_stack's `watch_stdin`), so none holds the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger("modelyard")

READY = b"ready"  # the line a worker writes to its stdout once it serves
# A worker's start is the proxy's start: imports, the config, the classifier's embedder.
START_TIMEOUT = 120.0


class WorkerExitedError(Exception):
    """A proxy worker process exited while the stack was serving."""


def worker_argv(config_path: str) -> list[str]:
    """The command of one worker: the proxy alone, as a worker, on the same config file."""
    return [sys.executable, "-m", "modelyard", "proxy", "--worker", "--config", config_path]


def announce_ready() -> None:
    """A worker's one line on its stdout, which Workers.start reads. Its stdout then goes where
    its stderr goes, so that nothing written there later can fill a pipe nobody reads."""
    sys.stdout.write(READY.decode() + "\n")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())


class Workers:
    def __init__(self, argv: Sequence[str], count: int) -> None:
        self.argv = list(argv)
        self.count = count
        self._procs: list[asyncio.subprocess.Process] = []
        self._stopping = False

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every worker and return once each serves; raise WorkerExitedError (after
        stopping the others) if one exits first or is not ready within `timeout`."""
        for _ in range(self.count):
            self._procs.append(
                await asyncio.create_subprocess_exec(
                    *self.argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    start_new_session=True,
                )
            )
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(self._ready(proc) for proc in self._procs))
        except TimeoutError:
            await self.stop(grace=5.0)
            raise WorkerExitedError(f"a proxy worker was not ready within {timeout:g} s") from None
        except WorkerExitedError:
            await self.stop(grace=5.0)
            raise

    async def _ready(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            if line.strip() == READY:
                return
        code = await proc.wait()
        raise WorkerExitedError(f"proxy worker {proc.pid} exited with code {code} while starting")

    async def exited(self) -> None:
        """Returns when a worker exits, unless this stack is stopping them."""
        if not self._procs:
            await asyncio.Event().wait()  # none: never
        waits = [asyncio.create_task(proc.wait()) for proc in self._procs]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if not self._stopping:
            proc = self._procs[waits.index(done.pop())]
            log.error("proxy worker %d exited with code %s: stopping", proc.pid, proc.returncode)

    def signal(self) -> None:
        """One SIGTERM to each worker still running: the first begins its drain, a second
        one forces its exit."""
        self._stopping = True
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)

    async def stop(self, grace: float) -> None:
        """Ask every worker to stop (if not asked yet), wait up to `grace` seconds, then kill
        the rest."""
        if not self._stopping:
            self.signal()
        waits = [proc.wait() for proc in self._procs]
        try:
            async with asyncio.timeout(grace):
                await asyncio.gather(*waits)
        except TimeoutError:
            for proc in self._procs:
                if proc.returncode is None:
                    log.warning("proxy worker %d still running after %g s: killed", proc.pid, grace)
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            await asyncio.gather(*(proc.wait() for proc in self._procs))
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
