"""Asks the supervisor for a ready server and translates its errors into the proxy's tree."""

from __future__ import annotations

from proxy.errors import UnavailableError
from supervisor.client import AdminClient
from supervisor.errors import (
    AdminUnreachableError,
    StartFailedError,
    SupervisorError,
    UnknownServerError,
)


class SupervisorUnreachableError(UnavailableError):
    code = "supervisor_unreachable"


class Backends:
    def __init__(self, admin: AdminClient) -> None:
        self._admin = admin

    async def ensure(self, server: str) -> str:
        """Base URL of `server` once it is ready (started on demand by the supervisor)."""
        try:
            info = await self._admin.ensure(server)
        except StartFailedError as exc:
            last = f" Last log line: {exc.log_tail[-1]}" if exc.log_tail else ""
            raise UnavailableError(
                f"Server {server!r} could not be started: {exc.reason}.{last}"
            ) from exc
        except UnknownServerError as exc:
            raise UnavailableError(
                f"The supervisor does not manage {server!r}: proxy and supervisor run "
                "different configs."
            ) from exc
        except AdminUnreachableError as exc:
            raise SupervisorUnreachableError(str(exc)) from exc
        except SupervisorError as exc:
            raise UnavailableError(f"Server {server!r} is unavailable: {exc}") from exc
        base_url: str = info["base_url"]
        return base_url
