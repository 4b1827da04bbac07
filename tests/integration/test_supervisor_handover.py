"""Two supervisors and one state directory (hardening issue): a second instance on the same
state directory refuses to start and touches nothing of the first's; with
supervisor.keep_servers, a supervisor's exit hands its running servers to the next one, which
adopts them instead of loading them again. Real `modelyard` processes, fake_vllm servers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from harness.stack import (
    MODELYARD,
    fake_server,
    pid_alive,
    running_stack,
    stack_config,
    wait_for,
)
from supervisor import statefile

pytestmark = pytest.mark.integration


def kill_groups(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def test_a_second_supervisor_on_the_same_state_dir_refuses_and_kills_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    (tmp_path / "first").mkdir()
    with running_stack(tmp_path / "first", stack_config(state, {"steady": fake_server()})) as stack:
        assert stack.cli("load", "steady").returncode == 0
        before = stack.server("steady")
        # its own ports, the same state dir, and no "steady": adoption would kill it as an orphan
        second_path = tmp_path / "second.yaml"
        second_path.write_text(yaml.safe_dump(stack_config(state)))
        second = subprocess.Popen(
            [MODELYARD, "supervisor", "--config", str(second_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = second.communicate(timeout=60)
        finally:
            second.kill()
            second.wait()
        assert second.returncode != 0, output
        assert f"state directory {state} is in use by another modelyard supervisor" in output
        assert f"pid {stack.proc.pid}" in output
        assert "supervisor.state_dir" in output
        after = stack.server("steady")
        assert (after["state"], after["pid"]) == ("ready", before["pid"])
        assert pid_alive(before["pid"])
        records = statefile.load(state / "servers.json")
        assert [(r.name, r.pid) for r in records] == [("steady", before["pid"])]


def test_keep_servers_hands_running_servers_to_the_next_supervisor(tmp_path: Path) -> None:
    config = stack_config(tmp_path / "state", {"steady": fake_server()}, keep_servers=True)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    kept: list[int] = []
    try:
        with running_stack(first, config) as stack:
            assert stack.cli("load", "steady").returncode == 0
            before = stack.server("steady")
            kept.append(before["pid"])
            stack.proc.send_signal(signal.SIGTERM)
            assert stack.proc.wait(timeout=60) == 0, stack.log()[-3000:]
        assert pid_alive(before["pid"]), "keep_servers leaves the server running"
        assert "leaving ['steady'] running" in stack.log()

        config["supervisor"]["keep_servers"] = False  # this one stops it for real on exit
        with running_stack(second, config, check_exit=True) as stack:
            ps = stack.cli("ps", "--json")
            assert ps.returncode == 0, ps.stderr
            now = next(s for s in json.loads(ps.stdout) if s["name"] == "steady")
            assert (now["state"], now["pid"], now["port"]) == (
                "ready",
                before["pid"],
                before["port"],
            )
            assert now["starts"] == 0, "adopted, not loaded again"
            reply = httpx.post(
                f"{stack.proxy_url}/v1/completions",
                json={"model": "steady", "prompt": "x", "max_tokens": 2},
                timeout=30,
            )
            assert reply.status_code == 200 and reply.headers["x-modelyard-model"] == "steady"
        wait_for(lambda: not pid_alive(before["pid"]), 10, "the adopted server to be stopped")
    finally:
        kill_groups(kept)
