"""Client of the supervisor's admin API, shared by the proxy and the CLI.

This module is the admin API's contract on the caller's side: HTTP errors come back as the
supervisor's own error tree, so the proxy and the CLI never parse status codes themselves.
`admin_token` is where the admin API, the proxy and the CLI all find the token, so the three
cannot disagree on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from modelyard_config.supervisor import SupervisorSettings
from supervisor.errors import (
    AdminUnreachableError,
    CapacityError,
    NoFreePortError,
    StartFailedError,
    SupervisorError,
    UnknownServerError,
)


def admin_token(settings: SupervisorSettings, environ: Mapping[str, str]) -> str | None:
    """`supervisor.admin_token`, else the variable `supervisor.admin_token_env` names; None
    when neither is set (an empty value counts as unset)."""
    return settings.admin_token or environ.get(settings.admin_token_env) or None


# seconds an idle connection to the supervisor is kept: under uvicorn's 5 s keep-alive
KEEPALIVE_EXPIRY = 2.0
# What a request sent on a connection the other side had just closed fails with; never a
# timeout (the supervisor may be busy) and never a refused connection (it is down).
_STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class AdminClient:
    def __init__(
        self,
        base_url: str,
        timeout: float = 900.0,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,  # tests: the app in-process
    ) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"authorization": f"Bearer {token}"} if token else {}
        # A start can take minutes on a GPU box: reads wait as long as a start may last.
        # An idle connection is dropped here before the supervisor's uvicorn drops it (its
        # keep-alive is 5 s), so that a request is rarely sent on one it is closing.
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=5.0),
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
            headers=headers,
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def servers(self) -> list[dict[str, Any]]:
        body = await self._call("GET", "/servers")
        result: list[dict[str, Any]] = body["servers"]
        return result

    async def server(self, name: str) -> dict[str, Any]:
        return await self._call("GET", f"/servers/{name}", name)

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        """The server once ready. `max_wait`: seconds this caller will wait for capacity; past
        it a CapacityError whose retry_after is the predicted wait (the load itself goes on
        while anyone else still waits for it)."""
        params = {"max_wait": max_wait} if max_wait is not None else None
        return await self._call("POST", f"/servers/{name}/ensure", name, params)

    async def waits(self, names: list[str]) -> list[dict[str, Any]]:
        """The predicted wait of each server, in the order asked: {"server", "ready" (true:
        can take a request now), "seconds" (null: cannot fit at all), "reason"}."""
        body = await self._call("GET", "/waits", "", {"server": names})
        result: list[dict[str, Any]] = body["waits"]
        return result

    async def stop(self, name: str) -> dict[str, Any]:
        return await self._call("POST", f"/servers/{name}/stop", name)

    async def action(self, name: str, verb: str) -> dict[str, Any]:
        """sleep, wake, pin or unpin."""
        return await self._call("POST", f"/servers/{name}/{verb}", name)

    async def schedule(self) -> dict[str, Any]:
        """Who waits for which server, what drains, and the scheduler's last decision."""
        return await self._call("GET", "/schedule")

    async def devices(self) -> dict[str, Any]:
        return await self._call("GET", "/devices")

    async def logs(self, name: str, offset: int) -> dict[str, Any]:
        return await self._call("GET", f"/servers/{name}/logs", name, {"offset": offset})

    async def _call(
        self, method: str, path: str, name: str = "", params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        try:
            try:
                response = await self._http.request(method, path, params=params)
            except _STALE_CONNECTION:
                # A kept-alive connection the supervisor closed as this request went out (its
                # idle timeout and ours can meet): once more, on a fresh one. Every admin call
                # may be repeated: reads, and requests for a state (ensure, stop, sleep, ...).
                response = await self._http.request(method, path, params=params)
        except httpx.HTTPError as exc:
            raise AdminUnreachableError(self.base_url, str(exc) or type(exc).__name__) from exc
        if response.status_code == 200:
            result: dict[str, Any] = response.json()
            return result
        raise _error_from(response, name)


def _error_from(response: httpx.Response, name: str) -> SupervisorError:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return SupervisorError(f"supervisor answered {response.status_code}: {response.text}")
    if error.get("code") == "server_not_found":
        return UnknownServerError(name)
    if error.get("code") == "server_start_failed":
        return StartFailedError(
            name, error.get("reason", ""), error.get("exit_code"), error.get("log_tail", [])
        )
    if error.get("code") == "capacity_unavailable":
        return CapacityError(name, error.get("reason", ""), error.get("retry_after"))
    if error.get("code") == "no_free_port":
        return NoFreePortError(error.get("message", ""))
    return SupervisorError(error.get("message", response.text))
