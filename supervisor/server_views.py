"""Two views of a ManagedServer, read from its properties and never written back: the admin
API's snapshot and the state file's record. The server is the source; these only format it.
The snapshot leaves the machine, so its command and env are masked (redact.py); the record
keeps the real argv, which adoption compares with the live process's."""

from __future__ import annotations

import time
from typing import Any

from supervisor import redact, statefile
from supervisor.server import ManagedServer
from supervisor.states import State


def record(server: ManagedServer) -> statefile.Record | None:
    """What a later supervisor needs to adopt this server; None when nothing runs."""
    pid, spec, port = server.pid, server.spec, server.port
    if pid is None or spec is None or port is None:
        return None
    return statefile.Record(
        name=server.name,
        pid=pid,
        port=port,
        argv=spec.argv,
        devices=list(server.devices),
        started_at=server.started_at or time.time(),
        asleep=server.state is State.ASLEEP,
        fingerprint=spec.fingerprint(),
        container_id=server.container_id,
        sleep_level=server.sleep_level,
    )


def snapshot(server: ManagedServer, memory: bool = True) -> dict[str, Any]:
    """State for the API. `memory=False` skips the process-table scan (milliseconds) that
    measuring the server's RSS costs: ensure() answers on every proxied request."""
    now, mono = time.time(), time.monotonic()
    usage, failure, uptime, spec = server.usage, server.failure, server.uptime_s, server.spec
    return {
        "name": server.name,
        "state": str(server.state),
        "sleep_level": server.sleep_level,  # 1: weights in host RAM, 2: dropped; None: awake
        "pid": server.pid,
        "container_id": server.container_id,
        "image": spec.container.image if spec and spec.container else None,
        "port": server.port,
        "base_url": server.base_url,
        "tier": server.tier,
        "pinned": usage.pinned,
        "devices": list(server.devices),
        "in_flight": usage.in_flight,
        "idle_s": round(mono - usage.last_used, 1),
        "last_used": round(now - (mono - usage.last_used), 3),
        "started_at": server.started_at,
        "ready_at": server.ready_at if server.state is State.READY else None,
        "uptime_s": round(uptime, 3) if uptime is not None else None,
        "memory_bytes": server.rss_bytes() if memory else None,
        "starts": server.starts,
        "restarts": server.restarts,
        "exit_code": failure.exit_code if failure else None,
        "reason": failure.reason if failure else None,
        "log_tail": failure.log_tail if failure else [],
        "log_path": str(server.log_path),
        # what it runs (or last ran) with, secrets masked: this leaves the box
        "command": redact.argv(spec.argv) if spec else None,
        "env": redact.env(spec.env) if spec else None,
    }
