"""The admin token with real processes: `modelyard supervisor` beyond loopback and without a
token does not start, and says which setting to give; `modelyard up` with a token serves the
proxy (whose admin client sends it) and the CLI (which reads it from the environment), and
nothing without it.

The one server is harness/fake_vllm.py (`--echo`): these tests are about the admin API's door,
not about vLLM, and a real start would cost 20-60 s for nothing.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.stack import MODELYARD, SERVER_PORTS, fake_server, free_port, running_stack

TOKEN = "integration-admin-token"


def minimal(tmp: Path, **supervisor: Any) -> dict[str, Any]:
    first = random.randrange(*SERVER_PORTS, 100)
    return {
        "supervisor": {
            "port": free_port(),
            "port_range": [first, first + 99],
            "state_dir": str(tmp / "state"),
            "simulate_gpus_gb": [4],
            **supervisor,
        },
        "proxy": {"port": free_port()},
        "servers": {"echoer": fake_server("--echo", gpu_memory_gb=0.1)},
        "routes": {"agent": ["echoer"]},
    }


def test_beyond_loopback_without_a_token_the_supervisor_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELYARD_ADMIN_TOKEN", raising=False)
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(minimal(tmp_path, host="0.0.0.0")))
    done = subprocess.run(
        [MODELYARD, "supervisor", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "supervisor.admin_token" in done.stderr and "$MODELYARD_ADMIN_TOKEN" in done.stderr


def test_with_a_token_the_proxy_and_the_cli_send_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_ADMIN_TOKEN", TOKEN)  # `up` and the CLI inherit it
    with running_stack(tmp_path, minimal(tmp_path)) as stack:
        tokenless = httpx.get(stack.admin_url + "/servers")
        chat = {"model": "agent", "messages": [{"role": "user", "content": "ping"}]}
        answer = httpx.post(stack.proxy_url + "/v1/chat/completions", json=chat, timeout=60)
        listed = stack.cli("ps", "--json")
        monkeypatch.delenv("MODELYARD_ADMIN_TOKEN")
        refused = stack.cli("ps")
    assert tokenless.status_code == 401
    assert answer.status_code == 200, answer.text  # the proxy's ensure carried the token
    assert listed.returncode == 0 and '"echoer"' in listed.stdout
    assert refused.returncode == 1 and "admin token" in refused.stderr
