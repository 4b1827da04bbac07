"""The status page's JSON shapes (proxy/ui/views.py), from what the supervisor's admin API
answers: a server keeps only the fields on the page's list (no command line, environment, log
path or upstream URL, whatever the API adds), a remote server is a row of its own, a device
lists who holds its memory, and the queue shows who waits with the wait predicted for it."""

from __future__ import annotations

from typing import Any

from proxy.ui.views import SERVER_FIELDS, devices_view, queue_view, remote_view, server_view

GiB = 2**30
SECRET = "sk-upstream-9d2e"

# What supervisor/fleet.py's describe() answers for a ready server, every key it has today,
# and one it might grow tomorrow.
DESCRIBED: dict[str, Any] = {
    "name": "tiny-qwen-a",
    "state": "ready",
    "sleep_level": None,
    "pid": 4242,
    "container_id": None,
    "image": None,
    "port": 8101,
    "base_url": "http://127.0.0.1:8101",
    "tier": "warm",
    "pinned": True,
    "devices": ["gpu0"],
    "in_flight": 2,
    "idle_s": 4.0,
    "last_used": 1_764_540_000.0,
    "started_at": 1_764_539_000.0,
    "ready_at": 1_764_539_031.0,
    "uptime_s": 12.3,
    "memory_bytes": 3 * GiB,
    "starts": 1,
    "restarts": 0,
    "exit_code": None,
    "reason": None,
    "log_tail": ["INFO: loading weights", f"--api-key {SECRET}"],
    "log_path": "/var/lib/modelyard/logs/tiny-qwen-a.log",
    "command": ["vllm", "serve", "Qwen/tiny", "--api-key", "***"],
    "env": {"HF_TOKEN": "***", "CUDA_VISIBLE_DEVICES": "0"},
    "gpu_memory_bytes": 5 * GiB,
    "model": "/models/Qwen/tiny",
    "served_name": "tiny-qwen-a",
    "capabilities": ["text", "tools"],
    "budget_bytes": 6 * GiB,
    "costs": {"start": {"seconds": 31.2, "observed": 2, "last": 30.8}},
    "waiting": 1,
    "draining": False,
    "predicted_wait": {"seconds": 0.0, "reason": "ready"},
    "secret_of_tomorrow": SECRET,
}
HIDDEN = (
    "command",
    "env",
    "log_path",
    "base_url",
    "log_tail",
    "pid",
    "container_id",
    "image",
    "model",
    "secret_of_tomorrow",
)


def test_a_server_keeps_only_the_pages_fields() -> None:
    view = server_view(DESCRIBED)
    assert set(view) == {*SERVER_FIELDS, "remote"}
    assert not set(HIDDEN) & set(view)
    assert SECRET not in repr(view) and "127.0.0.1" not in repr(view)
    assert view["remote"] is False
    for field in SERVER_FIELDS:
        assert view[field] == DESCRIBED[field], field


def test_a_field_the_supervisor_did_not_send_is_null() -> None:
    view = server_view({"name": "b", "state": "stopped"})
    assert view["state"] == "stopped" and view["remote"] is False
    assert view["port"] is None and view["budget_bytes"] is None
    assert set(view) == {*SERVER_FIELDS, "remote"}


def test_a_remote_server_is_a_row_with_nulls_for_what_a_process_would_have() -> None:
    view = remote_view("hosted", "gpt-hosted", ("text", "embedding"))
    assert set(view) == {*SERVER_FIELDS, "remote"}
    assert view["remote"] is True and view["state"] == "remote"
    assert (view["name"], view["served_name"]) == ("hosted", "gpt-hosted")
    assert view["capabilities"] == ["text", "embedding"]
    for field in ("port", "uptime_s", "idle_s", "memory_bytes", "budget_bytes", "tier"):
        assert view[field] is None, field
    assert view["devices"] == [] and view["pinned"] is False and view["in_flight"] == 0
    assert view["predicted_wait"]["seconds"] == 0.0


def test_a_devices_holders_carry_their_budget_and_state() -> None:
    servers = [
        server_view({**DESCRIBED, "name": "a", "state": "ready", "budget_bytes": 6 * GiB}),
        server_view({**DESCRIBED, "name": "b", "state": "waking", "budget_bytes": 2 * GiB}),
        server_view({**DESCRIBED, "name": "c", "state": "stopped", "budget_bytes": 9 * GiB}),
    ]
    report = {
        "kind": "gpu",
        "limit": 0.9,
        "devices": [
            {
                "key": "gpu0",
                "name": "NVIDIA H200",
                "total": 140 * GiB,
                "used": 9 * GiB,
                "live_used": 9 * GiB,
                "free": 131 * GiB,
                "ceiling": 126 * GiB,
                "planned": 8 * GiB,
                "servers": ["a", "b", "gone"],
            },
            {
                "key": "gpu1",
                "name": "NVIDIA H200",
                "total": 140 * GiB,
                "used": 0,
                "live_used": 0,
                "free": 140 * GiB,
                "ceiling": 126 * GiB,
                "planned": 0,
                "servers": [],
            },
        ],
    }
    view = devices_view(report, servers)
    assert (view["kind"], view["limit"]) == ("gpu", 0.9)
    first, second = view["devices"]
    assert first == {
        "key": "gpu0",
        "name": "NVIDIA H200",
        "total": 140 * GiB,
        "ceiling": 126 * GiB,
        "planned": 8 * GiB,
        "used": 9 * GiB,
        "free": 131 * GiB,
        "holders": [
            {"server": "a", "bytes": 6 * GiB, "state": "ready"},
            {"server": "b", "bytes": 2 * GiB, "state": "waking"},
            # listed by the supervisor, unknown to this reading's servers: shown, unmeasured
            {"server": "gone", "bytes": None, "state": None},
        ],
    }
    assert second["key"] == "gpu1" and second["holders"] == []


def test_the_queue_shows_who_waits_with_counts_and_the_predicted_wait() -> None:
    servers = [
        server_view({"name": "a", "predicted_wait": {"seconds": 0.0, "reason": "ready"}}),
        server_view({"name": "b", "predicted_wait": {"seconds": 12.0, "reason": "after a"}}),
        server_view({"name": "c", "predicted_wait": None}),
        server_view(
            {"name": "d", "state": "starting", "predicted_wait": {"seconds": 3.0, "reason": "x"}}
        ),
        server_view({"name": "e", "state": "waking", "predicted_wait": None}),
        server_view({"name": "f", "state": "ready", "predicted_wait": None}),
    ]
    shown = [{"waited_s": 2.1, "deadline_in_s": 8.0}, {"waited_s": 0.5, "deadline_in_s": None}]
    decision = {"switch": "b", "evict": ["a"], "reason": "b has waited longest"}
    schedule: dict[str, Any] = {
        "policy": "swap_aware",
        "decision": decision,
        # b: more waiting than the supervisor shows; a: nobody left; c: no prediction
        "waiting": {"a": [], "b": shown, "c": [{"waited_s": 1.0, "deadline_in_s": None}]},
        "waiting_count": {"a": 0, "b": 7, "c": 1},
        "loading": ["b"],
        "draining": {"a": {"for": "b", "since_s": 1.2}},
    }
    view = queue_view(schedule, servers)
    assert view["policy"] == "swap_aware" and view["decision"] == decision
    # loads waiting for room (the scheduler's own list) and servers starting or waking
    assert view["loading"] == ["b", "d", "e"]
    assert view["draining"] == {"a": {"for": "b", "since_s": 1.2}}
    assert view["waiting"] == [
        {"server": "b", "count": 7, "predicted_wait_s": 12.0, "requests": shown},
        {"server": "c", "count": 1, "predicted_wait_s": None, "requests": schedule["waiting"]["c"]},
    ]


def test_an_empty_schedule_is_an_empty_queue() -> None:
    view = queue_view({"policy": "arrival", "decision": None, "waiting": {}}, [])
    assert view == {
        "policy": "arrival",
        "decision": None,
        "loading": [],
        "draining": {},
        "waiting": [],
    }
