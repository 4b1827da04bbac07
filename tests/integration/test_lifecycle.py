"""Process lifecycle through failure paths, on real vLLM servers: crash while ready, stop
during a start, and the supervisor's own exit by signal or by error."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.stack import (
    Stack,
    group_pids,
    pid_alive,
    port_is_free,
    running_stack,
    shutdown,
    stack_config,
    wait_for,
)

pytestmark = pytest.mark.integration


def test_crash_while_ready_is_noticed_at_once_and_the_next_request_restarts(stack: Stack) -> None:
    assert stack.cli("load", "tiny-qwen-b").returncode == 0
    info = stack.server("tiny-qwen-b")
    os.killpg(info["pid"], signal.SIGKILL)
    failed = wait_for(
        lambda: (s := stack.server("tiny-qwen-b"))["state"] == "failed" and s,
        timeout=10,
        what="the crash to be noticed",
    )
    assert failed["exit_code"] == -signal.SIGKILL
    assert "while ready" in failed["reason"]

    raw = stack.openai().chat.completions.with_raw_response.create(
        model="tiny-qwen-b", messages=[{"role": "user", "content": "again"}], max_tokens=2
    )
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-b"
    again = stack.server("tiny-qwen-b")
    assert again["state"] == "ready" and again["pid"] != info["pid"]
    assert again["starts"] == failed["starts"] + 1


def test_stop_during_start_fails_the_waiters_and_kills_the_group(stack: Stack) -> None:
    if stack.server("tiny-qwen-b")["state"] != "stopped":
        assert stack.cli("unload", "tiny-qwen-b").returncode == 0
    answer: dict[str, Any] = {}

    def ensure() -> None:
        response = httpx.post(f"{stack.admin_url}/servers/tiny-qwen-b/ensure", timeout=300)
        answer.update(status=response.status_code, body=response.json())

    waiter = threading.Thread(target=ensure)
    waiter.start()
    starting = wait_for(
        lambda: (s := stack.server("tiny-qwen-b"))["pid"] and s,
        timeout=30,
        what="the start to spawn a process",
    )
    assert starting["state"] == "starting"
    assert stack.cli("unload", "tiny-qwen-b").returncode == 0
    waiter.join(timeout=60)
    assert answer["status"] == 503
    assert answer["body"]["error"]["reason"] == "stopped while starting"
    assert group_pids(starting["pid"]) == []
    assert stack.server("tiny-qwen-b")["state"] == "stopped"


SIGNALS = [signal.SIGTERM, signal.SIGINT]


@pytest.fixture(scope="module")
def exiting_stacks(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[signal.Signals, Stack]]:
    """A stack per signal, each with a tiny vLLM loaded, the two loads side by side: each takes
    ~45 s here, and two overlap on two cores. Each test then stops its own stack.
    Default vLLM multiprocessing: the API server spawns an engine core, which spawns the model
    worker, so the group has several processes and all of them must go."""
    multi = {"model": "{models_dir}/tiny-qwen2-a", "env": {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}}
    with contextlib.ExitStack() as exits:
        stacks = {}
        for sig in SIGNALS:
            tmp = tmp_path_factory.mktemp(f"exit-{sig.name}")
            config = stack_config(tmp / "state", extra_servers={"tiny-mp": multi})
            stacks[sig] = exits.enter_context(running_stack(tmp, config))
        with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
            loads = list(pool.map(lambda stack: stack.cli("load", "tiny-mp"), stacks.values()))
        for sig, loaded in zip(stacks, loads, strict=True):
            assert loaded.returncode == 0, f"{sig.name}: {loaded.stderr}"
        yield stacks


@pytest.mark.parametrize("sig", SIGNALS, ids=[sig.name for sig in SIGNALS])
def test_supervisor_exit_leaves_no_child(
    exiting_stacks: dict[signal.Signals, Stack], sig: signal.Signals
) -> None:
    stack = exiting_stacks[sig]
    info = stack.server("tiny-mp")
    members = group_pids(info["pid"])
    assert len(members) >= 2, "expected vLLM's API server and its engine core"
    survivors = shutdown(stack, sig)
    assert stack.proc.returncode == 0, stack.log()
    assert survivors == []
    assert not any(pid_alive(p) for p in members)
    assert port_is_free(info["port"])


def test_startup_error_exits_clearly_and_releases_the_supervisor(tmp_path: Path) -> None:
    config = stack_config(tmp_path / "state")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", config["proxy"]["port"]))
        squatter.listen()
        with pytest.raises(AssertionError, match="exited early"), running_stack(tmp_path, config):
            pass
    log = (tmp_path / "up.log").read_text()
    assert str(config["proxy"]["port"]) in log
    assert port_is_free(config["supervisor"]["port"])
