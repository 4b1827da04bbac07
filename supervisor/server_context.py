"""What a ManagedServer needs from its surroundings, passed in explicitly: no globals.

The fleet builds it. `admit`, the two callbacks and `sleep_check` are how a server tells the
fleet about itself without importing it: the fleet imports the server, never the other way
round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from supervisor.command import LaunchSpec
from supervisor.engine import Engine
from supervisor.launcher import Launcher
from supervisor.ports import PortAllocator

if TYPE_CHECKING:
    from supervisor.server import ManagedServer

# Placement -> memory claimed; the fleet calls it inside its capacity lock.
OnAdmit = Callable[[tuple[str, ...]], None]
# Made once the engine confirmed a sleep: True if the devices show the memory freed.
FreedCheck = Callable[[], bool]


@dataclass(frozen=True)
class ServerContext:
    render: Callable[[str, int, tuple[str, ...]], LaunchSpec]  # (name, port, devices)
    ports: PortAllocator
    launcher: Launcher  # the same for every server today; a container one would sit beside it
    engine: Engine
    log_dir: Path
    admit: Callable[[ManagedServer, OnAdmit], Awaitable[None]]
    changed: Callable[[ManagedServer], None]  # after every transition
    exited: Callable[[ManagedServer], None]  # the process died on its own
    # Reads the server's device memory just before a sleep; the check it returns compares
    # after the sleep (Fleet.sleep_check). None: no check (a sleep is taken at its word).
    sleep_check: Callable[[ManagedServer], FreedCheck] | None = None
