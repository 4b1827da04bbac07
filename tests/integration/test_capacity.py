"""Capacity control on real processes: the memory ceiling, eviction, pinning, in-flight
protection, the wait queue, sleep/wake, idle expiry, crash restarts, parallel loads.

On this machine NVML is absent, so host memory is accounted (DESIGN.md): `memory_cap_gb`
sets a small ceiling so two tiny servers with 2 GiB budgets cannot both fit.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.stack import (
    Stack,
    fake_server,
    running_stack,
    stack_config,
    wait_for,
)

pytestmark = pytest.mark.integration
# `policy: arrival`: these tests pin what capacity evicts (and never evicts) the moment a load
# asks; when a swap is worth making is the scheduler's, tested in test_scheduling.py.
ARRIVAL = {"policy": "arrival"}
CAP = {"memory_cap_gb": 3, "queue_timeout": 2, "scheduler": ARRIVAL}
# Sleeping frees GPU memory, not host RAM, so the warm tier needs GPU accounting. NVML cannot
# run here: a simulated 4 GiB GPU (80% ceiling: 3.2 GiB) stands in for it.
GPU = {"simulate_gpus_gb": [4], "queue_timeout": 2, "scheduler": ARRIVAL}


def metric(stack: Stack, name: str, **labels: str) -> float:
    text = httpx.get(stack.admin_url + "/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            label_part = line[len(name) :].split(" ")[0].strip("{}")
            if ",".join(sorted(label_part.split(","))) == want:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def ensure(stack: Stack, name: str) -> httpx.Response:
    return httpx.post(f"{stack.admin_url}/servers/{name}/ensure", timeout=300)


def test_memory_ceiling_evicts_the_idle_cold_server_but_never_a_pinned_one(
    tmp_path: Path,
) -> None:
    config = stack_config(tmp_path / "state", **CAP)
    for name in ("tiny-qwen-a", "tiny-qwen-b"):
        config["servers"][name]["gpu_memory_gb"] = 2
    config["routes"]["solo-b"] = ["tiny-qwen-b"]  # a chain with no fallback
    with running_stack(tmp_path, config, check_exit=True) as stack:
        assert stack.cli("load", "tiny-qwen-a").returncode == 0
        assert stack.cli("pin", "tiny-qwen-a").returncode == 0

        refused = ensure(stack, "tiny-qwen-b")
        assert refused.status_code == 503
        assert refused.headers["retry-after"]
        error = refused.json()["error"]
        assert error["code"] == "capacity_unavailable" and "pinned" in error["reason"]
        assert stack.server("tiny-qwen-a")["state"] == "ready"
        through_proxy = httpx.post(
            f"{stack.proxy_url}/v1/completions",
            json={"model": "solo-b", "prompt": "x"},
            timeout=60,
        )
        assert through_proxy.status_code == 503 and through_proxy.headers["retry-after"]
        assert through_proxy.json()["error"]["code"] == "capacity_unavailable"
        # with a fallback in the chain (tiny-qwen-b's route goes on to tiny-qwen-a), it serves
        served = httpx.post(
            f"{stack.proxy_url}/v1/completions",
            json={"model": "tiny-qwen-b", "prompt": "x", "max_tokens": 1},
            timeout=60,
        )
        assert served.status_code == 200
        assert served.headers["x-modelyard-tried"] == "tiny-qwen-b:capacity,tiny-qwen-a:ok"

        assert stack.cli("unpin", "tiny-qwen-a").returncode == 0
        loaded = stack.cli("load", "tiny-qwen-b")
        assert loaded.returncode == 0, loaded.stderr
        assert stack.server("tiny-qwen-a")["state"] == "stopped"
        assert metric(stack, "modelyard_evictions_total", server="tiny-qwen-a", action="stop") == 1
        gpus = json.loads(stack.cli("gpus", "--json").stdout)
        (host,) = gpus["devices"]
        assert gpus["kind"] == "host"
        assert (host["planned"], host["servers"]) == (2 * 2**30, ["tiny-qwen-b"])
        assert host["ceiling"] == 3 * 2**30
        assert "host memory" in stack.cli("gpus").stdout


def test_a_server_with_a_request_in_flight_is_not_evicted(tmp_path: Path) -> None:
    servers = {
        "busy": fake_server("--busy", gpu_memory_gb=2),
        "other": fake_server(gpu_memory_gb=2),
    }
    with running_stack(
        tmp_path, stack_config(tmp_path / "state", servers, **CAP), check_exit=True
    ) as stack:
        assert ensure(stack, "busy").status_code == 200
        refused = ensure(stack, "other")
        assert refused.status_code == 503
        assert "in flight" in refused.json()["error"]["reason"]
        assert stack.server("busy")["state"] == "ready"
        assert metric(stack, "modelyard_queue_length") == 0


def test_warm_servers_sleep_to_make_room_and_wake_on_demand(tmp_path: Path) -> None:
    servers = {
        "warm": fake_server(tier="warm", gpu_memory_gb=2),
        "cold": fake_server(gpu_memory_gb=2),
    }
    with running_stack(
        tmp_path, stack_config(tmp_path / "state", servers, **GPU), check_exit=True
    ) as stack:
        warm_pid = ensure(stack, "warm").json()["pid"]
        assert ensure(stack, "cold").status_code == 200
        asleep = stack.server("warm")
        assert asleep["state"] == "asleep" and asleep["pid"] == warm_pid  # alive, GPU freed
        woke = stack.cli("wake", "warm")
        assert woke.returncode == 0, woke.stderr
        assert stack.server("warm")["pid"] == warm_pid
        assert stack.server("cold")["state"] == "stopped"  # the cold one made room
        assert metric(stack, "modelyard_sleeps_total", server="warm") == 1
        assert metric(stack, "modelyard_wakes_total", server="warm") == 1

        assert stack.cli("sleep", "warm").returncode == 0
        assert stack.server("warm")["state"] == "asleep"
        raw = httpx.post(
            f"{stack.proxy_url}/v1/completions", json={"model": "warm", "prompt": "x"}, timeout=60
        )
        assert raw.status_code == 200, raw.text  # a request wakes it
        assert stack.server("warm")["state"] == "ready"


def test_idle_servers_expire_by_tier(tmp_path: Path) -> None:
    servers = {
        "warm": fake_server(tier="warm", idle_ttl=1),
        "cold": fake_server(idle_ttl=1),
        "hot": fake_server(tier="hot", idle_ttl=1),
    }
    config = stack_config(tmp_path / "state", servers, health={"interval": 0.3}, **GPU)
    with running_stack(tmp_path, config, check_exit=True) as stack:
        wait_for(lambda: stack.server("hot")["state"] == "ready", 30, "hot to start at boot")
        assert ensure(stack, "warm").status_code == 200
        assert ensure(stack, "cold").status_code == 200
        wait_for(lambda: stack.server("warm")["state"] == "asleep", 15, "warm to sleep")
        wait_for(lambda: stack.server("cold")["state"] == "stopped", 15, "cold to stop")
        assert stack.server("hot")["state"] == "ready"


def test_crashing_server_is_restarted_then_marked_failed(tmp_path: Path) -> None:
    servers = {
        "crashy": fake_server("--die-after", "1"),
        "wedged": fake_server("--hang-after", "1"),
    }
    health = {"interval": 0.3, "failures": 2, "max_restarts": 2, "backoff_initial": 0.2}
    config = stack_config(tmp_path / "state", servers, health=health)
    with running_stack(tmp_path, config, check_exit=True) as stack:
        assert ensure(stack, "crashy").status_code == 200
        assert ensure(stack, "wedged").status_code == 200

        crashy = wait_for(
            lambda: (
                (s := stack.server("crashy"))["state"] == "failed"
                and s["restarts"] == 2
                and s["starts"] == 3
                and s
            ),
            60,
            "crashy to be restarted twice and then left failed",
        )
        assert crashy["exit_code"] == 7 and "while ready" in crashy["reason"]
        assert metric(stack, "modelyard_restarts_total", server="crashy") == 2
        assert "failed" in stack.cli("ps").stdout
        wedged = wait_for(
            lambda: (s := stack.server("wedged"))["restarts"] >= 1 and s["starts"] >= 2 and s,
            60,
            "the wedged server to be killed and started again",
        )
        assert wedged["state"] in ("starting", "ready", "failed")
        logs = stack.cli("logs", "crashy")
        assert "fake vLLM on" in logs.stdout


def test_loads_of_different_servers_run_in_parallel(stack: Stack) -> None:
    for name in ("tiny-qwen-a", "tiny-qwen-b"):
        if stack.server(name)["state"] != "stopped":
            assert stack.cli("unload", name).returncode == 0
    answers: dict[str, dict[str, Any]] = {}

    def load(name: str) -> None:
        answers[name] = ensure(stack, name).json()

    threads = [threading.Thread(target=load, args=(n,)) for n in ("tiny-qwen-a", "tiny-qwen-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    a, b = answers["tiny-qwen-a"], answers["tiny-qwen-b"]
    assert a["state"] == b["state"] == "ready"
    assert a["started_at"] < b["ready_at"] and b["started_at"] < a["ready_at"], (
        "the two starts must overlap in time"
    )
