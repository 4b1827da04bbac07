"""The status page's three jobs behind its JSON: the state it polls, the actions its buttons
ask for, and a server's log tail. Who may do which is operator.py's; the shapes are views.py's.

Actions go to the supervisor through the proxy's own admin client, and its errors come back
as the proxy's (an unknown server is a 404, no room a 503 with the scheduler's reason, an
engine's refusal a 409), so the page shows the API's own message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

from modelyard_config import Config
from proxy.backends import CapacityUnavailableError, SupervisorUnreachableError
from proxy.errors import (
    ActionFailedError,
    ActionNotFoundError,
    ServerNotFoundError,
    UnavailableError,
)
from proxy.recent import RecentRequests
from proxy.ui.operator import Operator
from proxy.ui.source import StatusAdmin, SupervisorReadings
from proxy.ui.views import devices_view, queue_view, remote_view, server_view
from supervisor.errors import (
    AdminUnreachableError,
    CapacityError,
    StartFailedError,
    SupervisorError,
    UnknownServerError,
)

ACTIONS = ("load", "unload", "sleep", "wake", "pin", "unpin")
LOG_BYTES = 16_384  # what the page asks for first: the end of the log


class OperatorAdmin(StatusAdmin, Protocol):
    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]: ...

    async def stop(self, name: str) -> dict[str, Any]: ...

    async def action(self, name: str, verb: str) -> dict[str, Any]: ...

    async def logs(self, name: str, offset: int) -> dict[str, Any]: ...

    async def server(self, name: str) -> dict[str, Any]: ...


class StatusPage:
    def __init__(
        self,
        config: Config,
        admin: OperatorAdmin,
        recent: RecentRequests,
        operator: Operator,
        keys: bool,
        started: int,
    ) -> None:
        self.config = config
        self.admin = admin
        self.recent = recent
        self.operator = operator
        self.keys = keys
        self.started = started
        self.readings = SupervisorReadings(admin)

    async def state(self, headers: Mapping[str, str]) -> dict[str, Any]:
        reading = await self.readings.read()
        servers = [server_view(s) for s in reading.servers]
        servers += [
            remote_view(name, self.config.served_name(name), self.config.servers[name].capabilities)
            for name in self.config.remote_servers()
        ]
        return {
            "at": round(time.time(), 3),
            "proxy": {
                "pid": os.getpid(),
                "started": self.started,
                "workers": self.config.proxy.workers,
            },
            "access": {
                "keys": self.keys,
                "token_configured": self.operator.token_configured,
                "operator": self.operator.recognises(headers),
            },
            "supervisor": {"ok": reading.error is None, "error": reading.error},
            "devices": (
                devices_view(reading.devices, servers) if reading.devices is not None else None
            ),
            "servers": servers,
            "queue": queue_view(reading.schedule, servers) if reading.schedule else None,
            "requests": self.recent.newest_first(),
        }

    async def act(self, name: str, action: str, headers: Mapping[str, str]) -> dict[str, Any]:
        self.operator.require(headers)
        if action not in ACTIONS:
            raise ActionNotFoundError(
                f"No action {action!r}: the status page's actions are {', '.join(ACTIONS)}.",
                param="action",
            )
        self._local(name)
        try:
            if action == "load":
                await self.admin.ensure(name)
            elif action == "unload":
                await self.admin.stop(name)
            else:
                await self.admin.action(name, action)
            described = await self.admin.server(name)
        except SupervisorError as exc:
            raise _proxy_error(name, action, exc) from exc
        finally:
            self.readings.forget()  # the next poll shows what the action did
        return server_view(described)

    async def logs(self, name: str, offset: int, headers: Mapping[str, str]) -> dict[str, Any]:
        self.operator.require(headers)
        self._local(name)
        try:
            return await self.admin.logs(name, offset)
        except SupervisorError as exc:
            raise _proxy_error(name, "logs", exc) from exc

    def _local(self, name: str) -> None:
        spec = self.config.servers.get(name)
        if spec is None:
            raise ServerNotFoundError(f"No server {name!r} in this config.", param="name")
        if spec.remote is not None:
            raise ServerNotFoundError(
                f"{name!r} is a remote server, called through LiteLLM: modelyard does not run "
                "it, so it has no process to act on and no log.",
                param="name",
            )


def _proxy_error(name: str, action: str, exc: SupervisorError) -> Exception:
    if isinstance(exc, UnknownServerError):
        return ServerNotFoundError(f"The supervisor has no server {name!r}.", param="name")
    if isinstance(exc, AdminUnreachableError):
        return SupervisorUnreachableError(f"The supervisor did not answer: {exc}")
    if isinstance(exc, CapacityError):
        headers = {"retry-after": str(int(exc.retry_after))} if exc.retry_after else None
        return CapacityUnavailableError(f"{name}: no room to {action}: {exc}", headers=headers)
    if isinstance(exc, StartFailedError):
        last = f" Last log line: {exc.log_tail[-1]}" if exc.log_tail else ""
        return UnavailableError(f"{name} could not be started: {exc.reason}.{last}")
    return ActionFailedError(f"{name}: {action} refused: {exc}")
