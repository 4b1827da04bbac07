"""The warm tier's sleep levels on real processes (issue 16): `modelyard up` drives
harness/fake_vllm.py through vLLM's sleep API (its CPU build has no sleep mode: the double's
docstring), from level 1 to level 2 as the server stays idle, back through the reload a
level-2 wake needs, and to a stop.

The double answers gibberish when woken from level 2 without `reload_weights`, as vLLM does,
so the answer's text tells whether the supervisor woke it the way vLLM needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.stack import Stack, fake_server, running_stack, stack_config, wait_for

pytestmark = pytest.mark.integration
# Sleeping frees GPU memory, so the warm tier needs GPU accounting: a simulated 4 GiB GPU.
GPU: dict[str, Any] = {"simulate_gpus_gb": [4], "queue_timeout": 5}
SLEEP = {"level2_after": 1.5, "stop_after": 5}


def sleep_state(stack: Stack) -> dict[str, Any]:
    """What the double says of itself: its level, its weights, the reloads it took."""
    base_url = stack.server("warm")["base_url"]
    report: dict[str, Any] = httpx.get(f"{base_url}/is_sleeping", timeout=5).json()
    return report


def demotions(stack: Stack, to: str) -> float:
    text = httpx.get(stack.admin_url + "/metrics", timeout=5).text
    line = f'modelyard_demotions_total{{server="warm",to="{to}"}} '
    found = [float(x.split(" ")[-1]) for x in text.splitlines() if x.startswith(line)]
    return found[0] if found else 0.0


def test_idle_sleeper_goes_to_level_two_wakes_with_a_reload_then_stops(tmp_path: Path) -> None:
    servers = {"warm": fake_server(tier="warm", idle_ttl=0.5, gpu_memory_gb=2)}
    config = stack_config(tmp_path / "state", servers, health={"interval": 0.3}, sleep=SLEEP, **GPU)
    with running_stack(tmp_path, config, check_exit=True) as stack:
        started = httpx.post(f"{stack.admin_url}/servers/warm/ensure", timeout=60)
        assert started.status_code == 200, started.text
        pid = started.json()["pid"]

        wait_for(lambda: stack.server("warm")["sleep_level"] == 2, 20, "warm at level 2")
        assert stack.server("warm")["state"] == "asleep"
        assert sleep_state(stack) == {
            "is_sleeping": True,
            "level": 2,
            "weights": "dropped",
            "reloads": 0,
        }
        assert demotions(stack, "level2") == 1

        answer = httpx.post(
            f"{stack.proxy_url}/v1/completions",
            json={"model": "warm", "prompt": "x", "max_tokens": 1},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["text"] == "ok", "woken without its weights"
        assert sleep_state(stack)["reloads"] == 1
        woken = stack.server("warm")
        assert (woken["state"], woken["sleep_level"], woken["pid"]) == ("ready", None, pid)

        wait_for(lambda: stack.server("warm")["state"] == "stopped", 30, "warm to stop")
        assert demotions(stack, "level2") == 2
        assert demotions(stack, "stop") == 1
