"""Restart safety: take back the servers a previous supervisor left running, kill the rest.

A recorded server is adopted only if the launcher still finds it (for a process: its leader is
alive, leads its group and runs the recorded command; for a container: it runs, with this
supervisor's labels), this config would render exactly that workload for that port and
placement (command and fingerprint), and it answers its health path. Anything else it
recorded that is still alive is an orphan and is stopped. Then the launchers sweep what they
made for this supervisor that no record names (a container created just before a crash), and
nothing of anyone else's.
"""

from __future__ import annotations

import logging

from supervisor import statefile
from supervisor.fleet import Fleet
from supervisor.states import State

log = logging.getLogger("modelyard.supervisor")

ORPHAN_GRACE_S = 10.0  # an orphan's own stop_grace may be gone with its config entry


async def adopt_survivors(fleet: Fleet) -> tuple[list[str], list[str]]:
    """Return (adopted server names, killed orphan descriptions)."""
    adopted: list[str] = []
    killed: list[str] = []
    kept = []
    for record in statefile.load(fleet.state_file):
        handle = await fleet.launcher.adopt(record, fleet.state_dir / "logs" / f"{record.name}.log")
        if handle is None:
            continue
        server = next((s for s in fleet.servers() if s.name == record.name), None)
        if server is not None and server.state is State.STOPPED:
            spec = fleet.render(record.name, record.port, tuple(record.devices))
            same = spec.argv == record.argv and (
                not record.fingerprint or record.fingerprint == spec.fingerprint()
            )
            if same and await fleet.engine.healthy(spec.health_url):
                server.adopt(handle, spec, record)
                kept.append(handle)
                adopted.append(record.name)
                log.info("adopted %s (pid %d, port %d)", record.name, record.pid, record.port)
                continue
        log.warning("stopping orphan %s (pid %d)", record.name, record.pid)
        await handle.stop(ORPHAN_GRACE_S)
        killed.append(f"{record.name} (pid {record.pid})")
    killed += await fleet.launcher.sweep(kept)
    fleet.save_state()
    return adopted, killed
