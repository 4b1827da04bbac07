"""`proxy.workers: 2` (issue 14): two proxy processes serve one port, a request is answered
through each, and Ctrl-C stops both, leaving no process and the port free. Both ways of
running a proxy honour it: `modelyard up` and `modelyard proxy` (beside `modelyard supervisor`).

Which process answered is read from the kernel: the process that holds the server's end of
the client's connection. The upstream is harness/fake_vllm.py: these tests are about the
proxy's processes, not about vLLM, and a real start would cost 20-60 s for nothing.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from harness.processes import interrupt
from harness.stack import (
    MODELYARD,
    fake_server,
    pid_alive,
    port_is_free,
    running_stack,
    stack_config,
    wait_for,
)

pytestmark = pytest.mark.integration

CHAT = {"model": "fast", "messages": [{"role": "user", "content": "hi"}]}


def two_workers(tmp: Path) -> dict[str, Any]:
    config = stack_config(tmp / "state", extra_servers={"fast": fake_server("--chat-reply", "ok")})
    config["proxy"]["workers"] = 2
    return config


def listeners(root: int, port: int) -> set[int]:
    """The processes under `root` (itself included) listening on `port`."""
    procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    found = set()
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            if any(c.status == "LISTEN" and c.laddr.port == port for c in proc.net_connections()):
                found.add(proc.pid)
    return found


def served_by(port: int, workers: set[int]) -> tuple[int, int]:
    """One request on a new connection: (status, the pid of the worker that holds it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"content-type": "application/json"}
        conn.request("POST", "/v1/chat/completions", json.dumps(CHAT), headers)
        response = conn.getresponse()
        response.read()
        assert conn.sock is not None
        mine = conn.sock.getsockname()[1]
        for pid in workers:
            held = psutil.Process(pid).net_connections()
            if any(c.raddr and c.raddr.port == mine and c.laddr.port == port for c in held):
                return response.status, pid
        raise AssertionError(f"no worker holds the connection from port {mine}")
    finally:
        conn.close()


def assert_each_worker_answers(root: int, port: int) -> set[int]:
    def both() -> set[int] | None:
        found = listeners(root, port)
        return found if len(found) == 2 else None

    workers: set[int] = wait_for(both, timeout=60, what="two proxy processes listening")
    answered: dict[int, int] = {}
    # the kernel picks a worker by a hash of each new connection's ports: a few dozen
    # connections reach both (each of 40 missing one worker: 2**-40)
    for _ in range(40):
        status, pid = served_by(port, workers)
        answered[pid] = status
        if len(answered) == 2:
            break
    assert answered == dict.fromkeys(workers, 200)
    return workers


def test_up_with_two_workers_answers_through_each_and_stops_both(tmp_path: Path) -> None:
    config = two_workers(tmp_path)
    port = config["proxy"]["port"]
    with running_stack(tmp_path, config, check_exit=True) as stack:
        workers = assert_each_worker_answers(stack.proc.pid, port)
        assert stack.proc.pid in workers  # the first proxy runs in `up` itself
    assert not any(pid_alive(pid) for pid in workers)
    assert port_is_free(port)


def test_a_worker_that_dies_stops_the_stack_loudly(tmp_path: Path) -> None:
    """A proxy short of a worker would refuse the connections the kernel still sends that
    worker's way (its socket is gone with it): better to stop, say why, and be restarted."""
    config = two_workers(tmp_path)
    port = config["proxy"]["port"]
    with running_stack(tmp_path, config) as stack:
        workers = assert_each_worker_answers(stack.proc.pid, port)
        (child,) = workers - {stack.proc.pid}
        server = stack.server("fast")["pid"]
        psutil.Process(child).kill()
        assert stack.proc.wait(timeout=60) == 1
        assert f"proxy worker {child} exited" in stack.log()
        assert not pid_alive(server)  # the supervisor stopped its servers on the way out
    assert port_is_free(port)


@contextlib.contextmanager
def running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        interrupt(proc, 60)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_modelyard_proxy_honours_workers_beside_its_supervisor(tmp_path: Path) -> None:
    config = two_workers(tmp_path)
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(config))
    port = config["proxy"]["port"]
    admin = f"http://127.0.0.1:{config['supervisor']['port']}/health"
    supervisor_args = [MODELYARD, "supervisor", "--config", str(path)]
    with running(supervisor_args, tmp_path / "supervisor.log"):
        wait_for(lambda: answers(admin), timeout=60, what="the supervisor")
        proxy_args = [MODELYARD, "proxy", "--config", str(path)]
        with running(proxy_args, tmp_path / "proxy.log") as proxy:
            workers = assert_each_worker_answers(proxy.pid, port)
        assert proxy.returncode == 0, (tmp_path / "proxy.log").read_text()[-3000:]
    assert not any(pid_alive(pid) for pid in workers)
    assert port_is_free(port)


def test_workers_stop_when_the_process_that_started_them_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves no chance to stop them: each worker notices its stdin close (the pipe
    from the first proxy) and drains, so none holds the port after it."""
    config = two_workers(tmp_path)
    config["proxy"]["drain_grace"] = 2
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(config))
    port = config["proxy"]["port"]
    admin = f"http://127.0.0.1:{config['supervisor']['port']}/health"
    with running([MODELYARD, "supervisor", "--config", str(path)], tmp_path / "supervisor.log"):
        wait_for(lambda: answers(admin), timeout=60, what="the supervisor")
        proxy_args = [MODELYARD, "proxy", "--config", str(path)]
        with running(proxy_args, tmp_path / "proxy.log") as proxy:
            workers = assert_each_worker_answers(proxy.pid, port)
            proxy.kill()
            (child,) = workers - {proxy.pid}
            wait_for(lambda: not pid_alive(child), timeout=30, what="the worker to stop")
    assert port_is_free(port)
