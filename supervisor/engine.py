"""The engine seam: the calls the supervisor makes into a running server, beyond its process.

A server's process is the launcher's business (launcher.py); whether it answers, sleeps,
wakes and how busy it is are the engine's. Today's implementation speaks vLLM's HTTP API
(vllm_api.VllmEngine); the component tests supply a fake, so the orchestration is tested
without a 20-60 s vLLM start.

Addresses are passed per call rather than held: the same engine serves every server, and a
server's address changes with each start (a new port).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from supervisor.errors import SupervisorError


class EngineCallError(SupervisorError):
    """The engine refused or failed a call (sleep, wake): the server is still what it was."""


@dataclass(frozen=True)
class Load:
    in_flight: int  # running + waiting
    served: int  # requests finished so far (any outcome): a change means it was used


class Engine(Protocol):
    async def healthy(self, url: str) -> bool:
        """One probe of the health URL: True only for a 200; never raises."""
        ...

    async def sleep(self, base_url: str, level: int = 1) -> None:
        """Release the accelerator memory, keeping the process; EngineCallError if refused.
        Level 1 keeps the weights in host RAM; level 2 drops them (sleep_levels.py)."""
        ...

    async def wake(self, base_url: str, level: int = 1) -> None:
        """Undo sleep(level): after level 2 the weights are loaded again from where the server
        first loaded them. EngineCallError if refused."""
        ...

    async def load(self, base_url: str) -> Load | None:
        """How busy the server is; None when it publishes no load (a sidecar)."""
        ...
