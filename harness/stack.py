"""Runs a real `modelyard up` (supervisor + proxy) on free ports for tests, and cleans up after.

Each stack gets its own ports, port range and state folder, so tests never touch a stack a
developer may have running on the default ports.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from openai import OpenAI

from supervisor import paths

MODELYARD = str(Path(sys.executable).with_name("modelyard"))
FAKE_VLLM = str(Path(__file__).resolve().with_name("fake_vllm.py"))


def fake_server(*flags: str, **spec: Any) -> dict[str, Any]:
    """A servers.yaml entry for harness/fake_vllm.py (see its docstring for why)."""
    return {
        "model": "fake",
        "command": [sys.executable, FAKE_VLLM, "--port", "{port}", *flags],
        "startup_timeout": 30,
        "stop_grace": 3,
        **spec,
    }


CPU_PROFILE = paths.project_root() / "profiles" / "cpu.yaml"


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll `predicate` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Listening ports for test stacks come from below the kernel's ephemeral range: a port bound
# to 0 comes from inside it, where any client connection opened before the stack binds it
# (20 streams, a probe) may take it as its local port ("Address already in use" in CI).
LISTEN_PORTS = (20000, _ephemeral_floor())
SERVER_PORTS = (10000, 20000)  # the supervisor's port ranges for a test stack's servers


def free_port() -> int:
    """A loopback port that nothing listens on now, outside the ephemeral range."""
    for _ in range(500):
        port = random.randrange(*LISTEN_PORTS)
        if port_is_free(port):
            return port
    raise AssertionError(f"no free port in {LISTEN_PORTS} after 500 tries")


def port_is_free(port: int) -> bool:
    """No listener left: bindable with SO_REUSEADDR, as a server would bind it."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_pids(pgid: int) -> list[int]:
    pids = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                pids.append(proc.pid)
    return pids


def stack_config(
    state_dir: Path,
    extra_servers: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    **supervisor: Any,
) -> dict[str, Any]:
    """The CPU profile on private ports, plus any servers a test adds."""
    config: dict[str, Any] = yaml.safe_load(CPU_PROFILE.read_text())
    first = random.randrange(*SERVER_PORTS, 100)
    config["supervisor"].update(
        port=free_port(), port_range=[first, first + 99], state_dir=str(state_dir)
    )
    config["supervisor"]["defaults"]["env"].update(env or {})
    config["supervisor"].update(supervisor)
    config["proxy"]["port"] = free_port()
    config["servers"].update(extra_servers or {})
    return config


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    config: dict[str, Any]
    config_path: Path
    log_path: Path

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.config['supervisor']['port']}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.config['proxy']['port']}"

    def openai(self) -> OpenAI:
        return OpenAI(base_url=self.proxy_url + "/v1", api_key="unused", max_retries=0, timeout=300)

    @property
    def admin_headers(self) -> dict[str, str]:
        """The admin token, when the stack's config or environment sets one."""
        token = self.config["supervisor"].get("admin_token") or os.environ.get(
            "MODELYARD_ADMIN_TOKEN"
        )
        return {"authorization": f"Bearer {token}"} if token else {}

    def server(self, name: str) -> dict[str, Any]:
        url = f"{self.admin_url}/servers/{name}"
        result: dict[str, Any] = httpx.get(url, headers=self.admin_headers).json()
        return result

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI takes the admin token from its environment, never from argv (where `ps` would
        show it): a stack configured with one hands it over there."""
        env = dict(os.environ)
        token = self.config["supervisor"].get("admin_token")
        if token:
            env["MODELYARD_ADMIN_TOKEN"] = token
        return subprocess.run(
            [MODELYARD, *args, "--url", self.admin_url],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def preload(stack: Stack, *names: str) -> None:
    """Start `names` side by side, for a module that needs several tiny vLLMs. A start is
    mostly single-threaded imports, so they overlap on the 2-core CI machine: measured here,
    one start took 31 s, two side by side 30-38 s, three about 47 s."""
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        replies = pool.map(
            lambda name: httpx.post(
                f"{stack.admin_url}/servers/{name}/ensure", headers=stack.admin_headers, timeout=300
            ),
            names,
        )
        for name, reply in zip(names, replies, strict=True):
            assert reply.status_code == 200, f"{name} did not start: {reply.text}"


def answers(url: str, timeout: float = 1.0) -> bool:
    """One GET: True only for a 200; any HTTP error is False."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running_stack(tmp: Path, config: dict[str, Any], check_exit: bool = False) -> Iterator[Stack]:
    """`check_exit`: on leaving, fail unless `up` exited 0 and left no server process."""
    config_path = tmp / "servers.yaml"
    config_path.write_text(yaml.safe_dump(config))
    log_path = tmp / "up.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [MODELYARD, "up", "--config", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(proc, config, config_path, log_path)
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or (
                    answers(stack.admin_url + "/health") and answers(stack.proxy_url + "/v1/models")
                )
            ),
            timeout=60,
            what="modelyard up to answer",
        )
        assert proc.poll() is None, f"modelyard up exited early:\n{stack.log()}"
        yield stack
    finally:
        survivors = shutdown(stack)
    if check_exit:
        assert survivors == [], f"server processes outlived modelyard up: {survivors}"
        assert stack.proc.returncode == 0, f"modelyard up exited badly:\n{stack.log()[-3000:]}"


def shutdown(stack: Stack, sig: int = signal.SIGINT) -> list[int]:
    """Stop `modelyard up` with `sig`; return the pids of any server process that survived."""
    try:
        servers = httpx.get(
            stack.admin_url + "/servers", headers=stack.admin_headers, timeout=5
        ).json()["servers"]
    except (httpx.HTTPError, ValueError, KeyError):
        servers = []
    pgids = [s["pid"] for s in servers if s["pid"]]
    if stack.proc.poll() is None:
        stack.proc.send_signal(sig)
        try:
            stack.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            stack.proc.kill()
            stack.proc.wait()
    survivors = [pid for pgid in pgids for pid in group_pids(pgid)]
    for pid in survivors:  # never leave a stray vLLM behind for the next test or CI step
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return survivors
