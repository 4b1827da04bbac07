"""Who may call the admin API, which starts and stops processes.

Three checks, in a pure-ASGI middleware in front of every route but `/health` (left open so a
probe needs no secret; it says only "ok"):

- Host: only a name this API answers to (loopback names, the configured `host`, and
  `supervisor.admin_allowed_hosts`). A web page that rebinds its own DNS name to 127.0.0.1
  still sends its own name as Host, so it is refused though it reached the socket.
- Origin: a browser sends one on a cross-site POST (a form or fetch from any page); a request
  with an Origin that is not one of the names above is refused, so no page can stop a server.
- Token: with `supervisor.admin_token` (or its variable), every call carries
  `Authorization: Bearer TOKEN`, compared in constant time.

On an address other than loopback the API refuses to start without a token (`refuse_open`).

    AdminAccessError (openai_wire.errors.ApiError)
    ├── AdminTokenError     401  missing or wrong token
    ├── HostNotAllowedError 403  a Host this API does not answer to
    └── OriginNotAllowedError 403  a browser request from another site
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard_config import ConfigError
from modelyard_config.supervisor import SupervisorSettings
from openai_wire.bearer import bearer, digest, same
from openai_wire.errors import FORBIDDEN, INVALID_API_KEY, ApiError, handle_api_error

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = frozenset({"/health"})


class AdminAccessError(ApiError):
    pass


class AdminTokenError(AdminAccessError):
    fault = INVALID_API_KEY.with_code("invalid_admin_token")


class HostNotAllowedError(AdminAccessError):
    fault = FORBIDDEN.with_code("host_not_allowed")


class OriginNotAllowedError(AdminAccessError):
    fault = FORBIDDEN.with_code("origin_not_allowed")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


def refuse_open(settings: SupervisorSettings, token: str | None, source: str) -> None:
    """A ConfigError when the API would listen beyond loopback with no token."""
    if token is None and not is_loopback(settings.host):
        message = (
            f"the admin API listens on {settings.host}, beyond loopback, and can start and stop "
            f"processes: set supervisor.admin_token or ${settings.admin_token_env}, or listen "
            "on 127.0.0.1"
        )
        raise ConfigError(source, [("supervisor.admin_token", message)])


def split_host(value: str) -> tuple[str, int | None]:
    """`name[:port]` or `[v6]:port`, lower-cased; a port that is not a number is no port."""
    value = value.strip().lower()
    if value.startswith("["):
        name, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = value.partition(":")
    return name, int(port) if port.isdigit() else None


class AdminGuard:
    def __init__(self, settings: SupervisorSettings, token: str | None) -> None:
        self.port = settings.port
        # Answered with this API's port: the loopback names and the address it listens on.
        self.own = {name.lower() for name in (*LOOPBACK_NAMES, settings.host.strip("[]"))}
        self.extra = [split_host(entry) for entry in settings.admin_allowed_hosts]
        self.token = digest(token.encode()) if token is not None else None
        self.token_env = settings.admin_token_env

    def host_allowed(self, host: str, default_port: int = 80) -> bool:
        name, port = split_host(host)
        port = default_port if port is None else port
        if name in self.own and port == self.port:
            return True
        return any(name == n and p in (None, port) for n, p in self.extra)

    def check(self, path: str, headers: dict[bytes, bytes]) -> AdminAccessError | None:
        if path in OPEN_PATHS:
            return None
        host = headers.get(b"host", b"").decode("latin-1")
        if not self.host_allowed(host):
            return HostNotAllowedError(
                f"Host {host!r} is not a name this admin API answers to; add it to "
                "supervisor.admin_allowed_hosts if it should be."
            )
        origin = headers.get(b"origin")
        if origin is not None and not self._origin_allowed(origin.decode("latin-1")):
            return OriginNotAllowedError(
                "The admin API does not answer requests made by web pages (Origin "
                f"{origin.decode('latin-1')!r})."
            )
        if self.token is not None:
            given = bearer(headers.get(b"authorization", b""))
            if given is None or not same(digest(given), self.token):
                return AdminTokenError(
                    "Missing or wrong admin token: send 'Authorization: Bearer TOKEN' with "
                    f"supervisor.admin_token (or ${self.token_env})."
                )
        return None

    def _origin_allowed(self, origin: str) -> bool:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (a sandboxed page, a file) and anything odd
        return self.host_allowed(parts.netloc, 443 if parts.scheme == "https" else 80)


class AdminGuardMiddleware:
    def __init__(self, app: ASGIApp, guard: AdminGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refusal = self.guard.check(scope["path"], dict(scope["headers"]))
            if refusal is not None:
                response = await handle_api_error(Request(scope), refusal)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
