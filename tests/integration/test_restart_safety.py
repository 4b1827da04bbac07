"""Restart safety: after `kill -9` of the supervisor and a new start, the servers that are
still healthy are adopted (same pids, no second copy) and the ones that are not are killed."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from harness.stack import (
    fake_server,
    group_pids,
    pid_alive,
    running_stack,
    stack_config,
    wait_for,
)

pytestmark = pytest.mark.integration


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_9_then_restart_adopts_survivors_and_kills_orphans(tmp_path: Path) -> None:
    servers = {"wedged": fake_server("--hang-after", "3"), "steady": fake_server()}
    config = stack_config(tmp_path / "state", servers)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    with running_stack(first, config) as stack:
        for name in ("tiny-qwen-a", "steady", "wedged"):
            loaded = stack.cli("load", name)
            assert loaded.returncode == 0, loaded.stderr
        before = {n: stack.server(n) for n in ("tiny-qwen-a", "steady", "wedged")}
        vllm_group = group_pids(before["tiny-qwen-a"]["pid"])
        wedged_health = f"{before['wedged']['base_url']}/health"
        wait_for(lambda: not answers(wedged_health), 30, "the wedged server to stop answering")
        stack.proc.send_signal(signal.SIGKILL)
        stack.proc.wait(timeout=30)
    assert all(pid_alive(s["pid"]) for s in before.values()), "kill -9 leaves the children"

    with running_stack(second, config, check_exit=True) as stack:
        for name in ("tiny-qwen-a", "steady"):
            now = stack.server(name)
            assert now["state"] == "ready", now
            assert (now["pid"], now["port"]) == (before[name]["pid"], before[name]["port"])
            assert now["starts"] == 0, "adopted, not started again"
        assert group_pids(before["tiny-qwen-a"]["pid"]) == vllm_group, "no duplicate engine"
        wait_for(lambda: not pid_alive(before["wedged"]["pid"]), 30, "the orphan to be killed")
        assert stack.server("wedged")["state"] == "stopped"
        reply = httpx.post(
            f"{stack.proxy_url}/v1/completions",
            json={"model": "tiny-qwen-a", "prompt": "x", "max_tokens": 2},
            timeout=60,
        )
        assert reply.status_code == 200 and reply.headers["x-modelyard-model"] == "tiny-qwen-a"
    assert not any(pid_alive(s["pid"]) for s in before.values())
