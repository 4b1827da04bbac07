"""Restart safety: take back the servers a previous supervisor left running, kill the rest.

A recorded group is adopted only if its leader is alive, leads its group, runs exactly the
command this config would render for that port and placement, and answers its health path.
Anything else it recorded that is still alive is an orphan and is stopped.
"""

from __future__ import annotations

import logging

from supervisor import launchers, statefile
from supervisor.fleet import Fleet
from supervisor.health import probe
from supervisor.launchers import ProcessHandle
from supervisor.states import State

log = logging.getLogger("modelyard.supervisor")


async def adopt_survivors(fleet: Fleet) -> tuple[list[str], list[str]]:
    """Return (adopted server names, killed orphan descriptions)."""
    adopted: list[str] = []
    killed: list[str] = []
    for record in statefile.load(fleet.state_file):
        if not statefile.still_running(record):
            continue
        handle = ProcessHandle(record.pid, fleet.state_dir / "logs" / f"{record.name}.log")
        server = next((s for s in fleet.servers() if s.name == record.name), None)
        if server is not None and server.state is State.STOPPED:
            spec = fleet.render(record.name, record.port, tuple(record.devices))
            if spec.argv == record.argv and await probe(fleet.http, spec.health_url):
                fleet.ports.reserve(record.port, record.name)
                server.adopt(
                    handle,
                    spec,
                    record.port,
                    tuple(record.devices),
                    record.started_at,
                    record.asleep,
                )
                adopted.append(record.name)
                log.info("adopted %s (pid %d, port %d)", record.name, record.pid, record.port)
                continue
        log.warning("stopping orphan %s (pid %d)", record.name, record.pid)
        await launchers.terminate(handle, 10.0)
        killed.append(f"{record.name} (pid {record.pid})")
    fleet.save_state()
    return adopted, killed
