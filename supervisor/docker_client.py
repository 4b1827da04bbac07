"""The Docker engine as the container launcher reaches it: one client, built on first use, every
call in a daemon thread, and the SDK's failures translated once.

    DockerEngine.call(fn)   fn(client) off the event loop. An engine that cannot be reached,
                            or does not answer within supervisor.docker.api_timeout, raises
                            errors.LaunchError naming its address. The engine's own refusals
                            (docker.errors.APIError, NotFound among them) pass through: what
                            they mean depends on the call (a container gone, a name taken).

Why daemon threads rather than asyncio.to_thread: the default executor's threads are joined by
asyncio.run's shutdown and again at interpreter exit, so one call stuck on an engine that
stopped answering would hold the supervisor's exit for up to api_timeout. A daemon thread holds
nothing. Like to_thread, a cancelled call still runs to its end in its thread: a caller that
was creating something waits for it (docker_launcher's start).

The client is not built in __init__: the SDK asks the engine for its API version when it is
constructed, and a config whose engine is down must still load (its container servers fail,
naming the engine, when asked for). A failed connection is remembered for a few seconds only,
so an engine started later is found.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import docker

from modelyard_config.supervisor import DockerSettings
from supervisor.errors import LaunchError

T = TypeVar("T")

DEFAULT_HOST = "unix:///var/run/docker.sock"  # the SDK's default too, spelled for messages
# Every running container holds one connection for its log stream: past the SDK's default pool
# of 10, each further connection would be opened, then discarded with a warning.
POOL_SIZE = 64
RETRY_CONNECT_S = 5.0


def address_of(settings: DockerSettings, environ: Mapping[str, str]) -> str:
    """supervisor.docker.host, else DOCKER_HOST, else the engine's default socket."""
    return settings.host or environ.get("DOCKER_HOST") or DEFAULT_HOST


async def in_daemon_thread(fn: Callable[[], T], name: str) -> T:
    """`fn()` in a new daemon thread; its result or exception is delivered to the awaiting
    task. Cancelling the await leaves `fn` running; its outcome is then dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(settle: Callable[[], None]) -> None:
        # the loop may be closed by the time a stuck call returns: nobody waits any more
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle)

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting task, not swallowed
            error = exc
            deliver(lambda: None if future.done() else future.set_exception(error))
        else:
            deliver(lambda: None if future.done() else future.set_result(result))

    threading.Thread(target=run, name=f"modelyard-docker: {name}", daemon=True).start()
    return await future


class DockerEngine:
    """One engine, one client (thread-safe: the SDK's session pools its connections)."""

    def __init__(self, settings: DockerSettings, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = address_of(settings, env)
        self.api_timeout = settings.api_timeout
        # TLS settings (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) describe the engine DOCKER_HOST
        # names: taken only when the address comes from there.
        self._tls_env = dict(env) if settings.host is None else None
        self._client: Any = None
        self._connecting = asyncio.Lock()
        self._failed: tuple[float, str] | None = None  # (until when, why) after a failed connect

    def unreachable(self, exc: BaseException) -> str:
        return f"the Docker engine at {self.address} is not reachable: {exc}"

    async def client(self) -> Any:
        """The connected client (docker.DockerClient); LaunchError when the engine is down.
        A failure is repeated, without asking again, for RETRY_CONNECT_S: a supervisor starting
        beside a hung engine, with several containers to adopt, waits out api_timeout once."""
        async with self._connecting:
            if self._client is not None:
                return self._client
            if self._failed is not None and time.monotonic() < self._failed[0]:
                raise LaunchError(self._failed[1])
            try:
                self._client = await in_daemon_thread(self._connect, "connect")
            except (OSError, docker.errors.DockerException) as exc:
                self._failed = (time.monotonic() + RETRY_CONNECT_S, self.unreachable(exc))
                raise LaunchError(self._failed[1]) from exc
            self._failed = None
            return self._client

    def _connect(self) -> Any:
        kwargs: dict[str, Any] = {}
        if self._tls_env is not None:
            kwargs = docker.utils.kwargs_from_env(environment=self._tls_env)
        kwargs.update(base_url=self.address, timeout=self.api_timeout, max_pool_size=POOL_SIZE)
        return docker.DockerClient(**kwargs)

    async def call(self, fn: Callable[[Any], T], what: str) -> T:
        """`fn(client)` in a daemon thread (see the module docstring for what it raises)."""
        client = await self.client()
        try:
            return await in_daemon_thread(lambda: fn(client), what)
        except docker.errors.APIError:
            raise  # the engine answered: the caller knows what a refusal means
        except OSError as exc:  # requests' connection errors and timeouts are OSErrors
            raise LaunchError(self.unreachable(exc)) from exc
        except docker.errors.DockerException as exc:  # the SDK refused an argument
            raise LaunchError(f"the Docker engine at {self.address}: {exc}") from exc

    def close(self) -> None:
        """Close the client's connections (no request is made); a later call connects again."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
