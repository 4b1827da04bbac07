"""The stack a load run measures: the CPU profile on free ports (harness/stack.py's
`stack_config`), with the supervisor and the proxy as two processes (`modelyard supervisor`,
`modelyard proxy`), so that each one's memory, CPU and open files are its own; `together`
runs them as the one process of `modelyard up` instead. Stopped in order on leaving, whatever
happened: the proxy (it drains), then the supervisor (it stops every server), then any server
process that outlived it is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.processes import interrupt
from harness.stack import MODELYARD, answers, group_pids, wait_for


@dataclass
class Running:
    config: dict[str, Any]
    folder: Path
    supervisor: subprocess.Popen[bytes]
    proxy: subprocess.Popen[bytes]  # the supervisor's process too, when run together

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.config['supervisor']['port']}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.config['proxy']['port']}"

    @property
    def together(self) -> bool:
        return self.proxy is self.supervisor

    def roles(self) -> dict[str, int]:
        if self.together:
            return {"up": self.proxy.pid}
        return {"proxy": self.proxy.pid, "supervisor": self.supervisor.pid}

    def server(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.admin_url}/servers/{name}", timeout=10).json()
        return found

    def admin(self, name: str, action: str, timeout: float = 600) -> httpx.Response:
        return httpx.post(f"{self.admin_url}/servers/{name}/{action}", timeout=timeout)


def _start(folder: Path, role: str, config_path: Path) -> subprocess.Popen[bytes]:
    with (folder / f"{role}.log").open("wb") as log:
        return subprocess.Popen(
            [MODELYARD, role, "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the runner, which stops these in order
        )


def _tail(log: Path, lines: int = 5) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


@contextlib.contextmanager
def running(folder: Path, config: dict[str, Any], together: bool = False) -> Iterator[Running]:
    config_path = folder / "servers.yaml"
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(_start(folder, "up" if together else "supervisor", config_path))
        if not together:
            procs.append(_start(folder, "proxy", config_path))
        stack = Running(config, folder, procs[0], procs[-1])
        wait_for(
            lambda: (
                any(p.poll() is not None for p in procs)
                or (
                    answers(stack.admin_url + "/health", 2)
                    and answers(stack.proxy_url + "/health", 2)
                )
            ),
            timeout=120,
            what="the supervisor and the proxy to answer",
        )
        if any(p.poll() is not None for p in procs):
            said = "\n".join(_tail(folder / f"{r}.log") for r in ("up", "supervisor", "proxy"))
            raise RuntimeError(f"the stack exited while starting ({folder}):\n{said.strip()}")
        yield stack
    finally:
        _stop(procs, config)


def _stop(procs: list[subprocess.Popen[bytes]], config: dict[str, Any]) -> None:
    admin = f"http://127.0.0.1:{config['supervisor']['port']}/servers"
    try:
        groups = [s["pid"] for s in httpx.get(admin, timeout=5).json()["servers"] if s["pid"]]
    except (httpx.HTTPError, ValueError, KeyError):
        groups = []
    for proc in reversed(procs):  # the proxy first: it drains; then the supervisor
        interrupt(proc, 90)
    for pid in (pid for group in groups for pid in group_pids(group)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# Servers warmed at once. Two cores cannot start many vLLM servers together: five at once took
# 190-217 s each, and of six at once four missed the CPU profile's 240 s startup_timeout
# (measured, 2026-11-30, with other work on the box). Two at a time keeps each start near its
# 20-45 s alone.
WARM_AT_ONCE = 2


def warm(stack: Running, names: list[str]) -> dict[str, str]:
    """Ensure each server, `WARM_AT_ONCE` at a time: name -> what happened ("ready in
    31.2 s", or the supervisor's reason)."""

    def ensure(name: str) -> str:
        started = time.monotonic()
        try:
            answer = stack.admin(name, "ensure")
        except httpx.HTTPError as exc:
            return f"failed: {exc}"
        took = time.monotonic() - started
        if answer.status_code == 200:
            return f"ready in {took:.1f} s"
        return f"failed after {took:.1f} s: HTTP {answer.status_code} {answer.text[:200]}"

    pool = ThreadPoolExecutor(max_workers=WARM_AT_ONCE)
    try:
        return dict(zip(names, pool.map(ensure, names), strict=True))
    finally:
        # On a signal, no waiting for the starts in flight: stopping the stack ends them.
        pool.shutdown(wait=False, cancel_futures=True)
