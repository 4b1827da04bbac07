"""The status page's state, shaped from what the supervisor's admin API answered and what the
proxy knows itself. Pure functions: the page's JSON contract is here and nowhere else.

Every server field is named on a list: what the admin API adds later does not reach the page
unless it is added here. Left out on purpose: command lines and environments (masked by the
supervisor, still operator detail), log paths, upstream URLs and failure log tails (the page's
log tail, behind the admin token, shows those).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SERVER_FIELDS = (
    "name",
    "served_name",
    "state",
    "sleep_level",
    "tier",
    "pinned",
    "port",
    "devices",
    "uptime_s",
    "idle_s",
    "in_flight",
    "starts",
    "restarts",
    "exit_code",
    "reason",
    "memory_bytes",
    "gpu_memory_bytes",
    "budget_bytes",
    "costs",
    "waiting",
    "draining",
    "predicted_wait",
    "capabilities",
)


def server_view(described: Mapping[str, Any]) -> dict[str, Any]:
    view = {field: described.get(field) for field in SERVER_FIELDS}
    view["remote"] = False
    return view


def remote_view(name: str, served_name: str, capabilities: Iterable[str]) -> dict[str, Any]:
    """A hosted model called through LiteLLM: the supervisor does not run it, so what it
    would say of a process is None."""
    view: dict[str, Any] = dict.fromkeys(SERVER_FIELDS)
    view.update(
        name=name,
        served_name=served_name,
        state="remote",
        pinned=False,
        devices=[],
        in_flight=0,
        starts=0,
        restarts=0,
        costs={},
        waiting=0,
        draining=False,
        predicted_wait={"seconds": 0.0, "reason": "remote: called through LiteLLM"},
        capabilities=list(capabilities),
        remote=True,
    )
    return view


def devices_view(report: Mapping[str, Any], servers: list[dict[str, Any]]) -> dict[str, Any]:
    """Each device with who holds its memory: the servers the supervisor counts on it, each
    with its planned bytes (its budget) and state."""
    by_name = {s["name"]: s for s in servers}
    devices = []
    for device in report.get("devices", []):
        holders = [
            {
                "server": name,
                "bytes": by_name.get(name, {}).get("budget_bytes"),
                "state": by_name.get(name, {}).get("state"),
            }
            for name in device.get("servers", [])
        ]
        devices.append(
            {
                "key": device.get("key"),
                "name": device.get("name"),
                "total": device.get("total"),
                "ceiling": device.get("ceiling"),
                "planned": device.get("planned"),
                "used": device.get("used"),
                "free": device.get("free"),
                "holders": holders,
            }
        )
    return {"kind": report.get("kind"), "limit": report.get("limit"), "devices": devices}


def queue_view(schedule: Mapping[str, Any], servers: list[dict[str, Any]]) -> dict[str, Any]:
    """Who waits for which server, since when, and the wait the scheduler predicts for it."""
    predicted = {s["name"]: (s.get("predicted_wait") or {}).get("seconds") for s in servers}
    counts: Mapping[str, int] = schedule.get("waiting_count", {})
    waiting = [
        {
            "server": name,
            "count": counts.get(name, len(requests)),
            "predicted_wait_s": predicted.get(name),
            "requests": requests,
        }
        for name, requests in schedule.get("waiting", {}).items()
        if requests or counts.get(name)
    ]
    # what is loading: servers starting or waking, and loads still waiting for room (the
    # scheduler's own "loading" is only the latter)
    loading = {s["name"] for s in servers if s.get("state") in ("starting", "waking")}
    loading.update(schedule.get("loading", []))
    return {
        "policy": schedule.get("policy"),
        "decision": schedule.get("decision"),
        "loading": sorted(loading),
        "draining": schedule.get("draining", {}),
        "waiting": waiting,
    }
