"""The container launcher (launcher.Launcher): each `launcher: docker` server as a container on
a Docker engine, through the Docker SDK.

    start   banner -> the image (pulled as `pull:` says) -> the name cleared, of our own
            container only -> create and start, in one thread call -> a ContainerHandle
    adopt   a recorded container that still runs, with our labels and the recorded fingerprint
    sweep   this instance's containers that nothing kept: stopped and removed
    close   the watchers stopped, the client closed (containers keep running)

Whose a container is, is read from its labels (command.LABEL_*): only those with managed=1 and
this supervisor's instance are ever removed. A container of anyone else's under the name a
server needs fails that start, naming it; it is never removed.

Every engine call runs in a daemon thread (docker_client.py). A start cancelled (stop() during
a start) while its container is being created waits for the creation to end and removes the
container before the cancellation goes on: a start never loses track of what it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import docker

from modelyard_config.supervisor import DockerSettings
from supervisor import server_logs
from supervisor.child_env import allowed
from supervisor.command import (
    LABEL_FINGERPRINT,
    LABEL_INSTANCE,
    LABEL_MANAGED,
    ContainerLaunch,
    LaunchSpec,
)
from supervisor.docker_args import create_kwargs
from supervisor.docker_client import DockerEngine
from supervisor.docker_handle import ContainerHandle
from supervisor.errors import LaunchError
from supervisor.launcher import ServerHandle
from supervisor.statefile import Record

log = logging.getLogger("modelyard.supervisor")

SWEEP_GRACE_S = 5  # a stray container of ours is nobody's server: a short grace, then removed


class DockerLauncher:
    """`instance`: this supervisor's (Fleet.instance), which its containers' labels carry and
    its sweep looks for. `environ` (default os.environ): where DOCKER_HOST is read."""

    def __init__(
        self, settings: DockerSettings, instance: str, environ: Mapping[str, str] | None = None
    ) -> None:
        self._engine = DockerEngine(settings, environ)
        self._instance = instance
        self._host_env = os.environ if environ is None else environ
        self._passthrough = tuple(settings.env_passthrough)
        self._handles: set[ContainerHandle] = set()

    def _passed(self) -> dict[str, str]:
        """The supervisor's variables supervisor.docker.env_passthrough names. Read at each
        start, not rendered: they are secrets (a hub token), kept out of the state file, the
        fingerprint and `modelyard ps`."""
        return {k: v for k, v in self._host_env.items() if allowed(k, self._passthrough)}

    # -- start ---------------------------------------------------------------------------------

    async def start(self, spec: LaunchSpec, log_path: Path) -> ContainerHandle:
        box = spec.container
        if box is None or box.labels.get(LABEL_INSTANCE) != self._instance:
            # a bug, said plainly: a container labelled for another instance would be refused
            # by this launcher's next start and missed by its sweep
            raise LaunchError(f"{spec.name}: not a container of instance {self._instance!r}")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:
            out.write(server_logs.banner(spec))
        client = await self._engine.client()
        await self._ensure_image(box)
        await self._clear_name(box)
        creating = asyncio.ensure_future(
            self._engine.call(
                lambda c: _create_and_start(c, spec, self._passed()), f"create {box.name}"
            )
        )
        try:
            container_id, pid = await asyncio.shield(creating)
        except asyncio.CancelledError:
            await self._discard(creating)
            raise
        except docker.errors.APIError as exc:
            reason = f"the Docker engine at {self._engine.address} refused to run {box.image}"
            raise LaunchError(f"{reason} as {box.name}: {_explain(exc)}") from exc
        handle = ContainerHandle(self._engine, client, container_id, box.name, pid, log_path)
        self._keep(handle)
        return handle

    async def _ensure_image(self, box: ContainerLaunch) -> None:
        where = f"the Docker engine at {self._engine.address}"
        if box.pull != "always":
            try:
                await self._engine.call(lambda c: c.api.inspect_image(box.image), "inspect image")
                return
            except docker.errors.NotFound:
                if box.pull == "never":
                    reason = f"image {box.image} is not on {where} (pull: never)"
                    raise LaunchError(reason) from None
            except docker.errors.APIError as exc:
                raise LaunchError(f"image {box.image} on {where}: {_explain(exc)}") from exc
        log.info("pulling %s on %s", box.image, where)
        try:
            await self._pull(box.image)
        except docker.errors.APIError as exc:
            reason = f"image {box.image} could not be pulled by {where}: {_explain(exc)}"
            raise LaunchError(reason) from exc
        except LaunchError as exc:  # a registry silent past api_timeout, or the engine gone
            raise LaunchError(f"image {box.image} could not be pulled: {exc.reason}") from exc

    async def _pull(self, image: str) -> None:
        """The SDK sends a pull without a read timeout (a big image takes minutes): a pull that
        reports no progress for api_timeout is given up here instead, never a hang."""
        progress = _Progress()
        pulling = asyncio.ensure_future(
            self._engine.call(lambda c: _pull(c, image, progress), f"pull {image}")
        )
        try:
            while not pulling.done():
                await asyncio.wait({pulling}, timeout=1.0)
                if time.monotonic() - progress.last > self._engine.api_timeout:
                    raise LaunchError(
                        f"the Docker engine at {self._engine.address} reported no progress "
                        f"for {self._engine.api_timeout:g} s"
                    )
        finally:
            pulling.cancel()  # done: no effect; else its thread's outcome is dropped
        pulling.result()

    async def _clear_name(self, box: ContainerLaunch) -> None:
        """Remove a container of ours left under this name (one whose removal failed, or one a
        crashed supervisor created); refuse, naming it, when it is anyone else's."""
        try:
            found = await self._engine.call(lambda c: c.api.inspect_container(box.name), "inspect")
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            raise LaunchError(f"container {box.name}: {_explain(exc)}") from exc
        labels = found["Config"].get("Labels") or {}
        if not self._ours(labels):
            owner = labels.get(LABEL_INSTANCE) if labels.get(LABEL_MANAGED) == "1" else None
            whose = (
                f"belongs to another modelyard supervisor (instance {owner!r}, this one is "
                f"{self._instance!r})"
                if owner
                else "is not modelyard's"
            )
            raise LaunchError(
                f"a container named {box.name} already exists on the Docker engine at "
                f"{self._engine.address} and {whose}: remove or rename it"
            )
        log.info("removing stale container %s (%s)", box.name, found["Id"][:12])
        try:
            await self._remove(found["Id"])
        except docker.errors.APIError as exc:
            reason = f"a stale container {box.name} of ours could not be removed"
            raise LaunchError(f"{reason}: {_explain(exc)}") from exc

    async def _discard(self, creating: asyncio.Future[tuple[str, int]]) -> None:
        """The start was cancelled while its container was being created: wait for the creation
        to end (further cancellations too: the container would be lost), then remove it."""
        await _settle(creating)
        if creating.cancelled() or creating.exception() is not None:
            return  # nothing was left: _create_and_start removes what it made before raising
        container_id, _ = creating.result()
        log.info("removing container %s: its start was cancelled", container_id[:12])
        removing = asyncio.ensure_future(self._remove(container_id))
        await _settle(removing)
        if not removing.cancelled() and removing.exception() is not None:
            log.warning("container %s not removed: %s", container_id[:12], removing.exception())

    async def _remove(self, container_id: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            await self._engine.call(
                lambda c: c.api.remove_container(container_id, force=True), "remove"
            )

    # -- adopt, sweep, close -------------------------------------------------------------------

    async def adopt(self, record: Record, log_path: Path) -> ContainerHandle | None:
        if record.container_id is None:
            return None
        cid = record.container_id
        try:
            client = await self._engine.client()
            found = await self._engine.call(lambda c: c.api.inspect_container(cid), "inspect")
        except docker.errors.NotFound:
            return None
        except (LaunchError, docker.errors.APIError) as exc:
            log.warning("%s: container %s not adopted: %s", record.name, cid[:12], exc)
            return None
        labels = found["Config"].get("Labels") or {}
        state = found["State"]
        if not state.get("Running") or not self._ours(labels):
            return None
        if labels.get(LABEL_FINGERPRINT) != record.fingerprint:
            return None
        # Follow on from what the previous supervisor wrote: its last write is the file's mtime.
        try:
            since = log_path.stat().st_mtime
        except OSError:
            since = time.time()
        name = str(found.get("Name", "")).lstrip("/") or record.name
        handle = ContainerHandle(
            self._engine, client, cid, name, int(state.get("Pid") or 0), log_path, since
        )
        self._keep(handle)
        return handle

    async def sweep(self, keep: Sequence[ServerHandle]) -> list[str]:
        """Meant for a supervisor's start (adoption.py): containers this launcher is running
        are kept too, whatever `keep` says."""
        kept = {h.container_id for h in keep} | {h.container_id for h in self._live()}
        labels = [f"{LABEL_MANAGED}=1", f"{LABEL_INSTANCE}={self._instance}"]
        try:
            found = await self._engine.call(
                lambda c: c.api.containers(all=True, filters={"label": labels}), "list"
            )
        except (LaunchError, docker.errors.APIError) as exc:
            log.warning("containers not swept: %s", exc)
            return []
        strays = [c for c in found if c["Id"] not in kept and self._ours(c.get("Labels") or {})]
        removed = await asyncio.gather(*(self._remove_stray(c) for c in strays))
        return [description for description in removed if description is not None]

    async def _remove_stray(self, found: dict[str, Any]) -> str | None:
        cid = found["Id"]
        name = (found.get("Names") or ["/?"])[0].lstrip("/")
        try:
            with contextlib.suppress(docker.errors.NotFound):
                await self._engine.call(lambda c: c.api.stop(cid, timeout=SWEEP_GRACE_S), "stop")
            await self._remove(cid)
        except (LaunchError, docker.errors.APIError) as exc:
            log.warning("stray container %s (%s) not removed: %s", name, cid[:12], exc)
            return None
        log.warning("removed stray container %s (%s)", name, cid[:12])
        return f"{name} (container {cid[:12]})"

    async def close(self) -> None:
        for handle in self._handles:
            handle.close()
        self._handles.clear()
        self._engine.close()

    # -- helpers -------------------------------------------------------------------------------

    def _ours(self, labels: Mapping[str, str]) -> bool:
        return labels.get(LABEL_MANAGED) == "1" and labels.get(LABEL_INSTANCE) == self._instance

    def _keep(self, handle: ContainerHandle) -> None:
        self._handles = {*self._live(), handle}

    def _live(self) -> list[ContainerHandle]:
        return [h for h in self._handles if not h.exited]


def _create_and_start(client: Any, spec: LaunchSpec, passed: dict[str, str]) -> tuple[str, int]:
    """In one thread call, so nothing but this function ever holds a container half made: it
    returns (id, host pid of its init) of a started container, or raises having removed what
    it created. `passed`: the supervisor's variables that supervisor.docker.env_passthrough
    names, under the server's own env."""
    assert spec.container is not None
    try:
        container = client.containers.create(**create_kwargs(spec, passed))
    except docker.errors.APIError:
        raise  # the engine refused: nothing was created
    except BaseException:  # no answer (a timeout): the engine may have created it all the same
        _remove_by_name(client, spec)
        raise
    try:
        container.start()
        container.reload()
        return str(container.id), int(container.attrs["State"].get("Pid") or 0)
    except BaseException:
        with contextlib.suppress(OSError, docker.errors.DockerException):
            container.remove(force=True)
        raise


def _remove_by_name(client: Any, spec: LaunchSpec) -> None:
    """Remove the container named for `spec` if it is the one this start was creating (its
    fingerprint label says so); best effort: the next start or sweep removes it otherwise."""
    assert spec.container is not None
    box = spec.container
    with contextlib.suppress(OSError, docker.errors.DockerException):
        found = client.api.inspect_container(box.name)
        labels = found["Config"].get("Labels") or {}
        if labels.get(LABEL_FINGERPRINT) == box.labels.get(LABEL_FINGERPRINT) and all(
            labels.get(k) == box.labels.get(k) for k in (LABEL_MANAGED, LABEL_INSTANCE)
        ):
            client.api.remove_container(found["Id"], force=True)


class _Progress:
    """When a pull last reported anything (written by its thread, read by the loop)."""

    def __init__(self) -> None:
        self.last = time.monotonic()


def _pull(client: Any, image: str, progress: _Progress) -> None:
    """Pull `image`, raising the engine's own words when it fails. The tag is always sent: an
    empty one would pull every tag of the repository."""
    repository, tag = docker.utils.parse_repository_tag(image)
    for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
        progress.last = time.monotonic()
        if isinstance(event, dict) and event.get("error"):
            raise docker.errors.APIError(str(event["error"]), explanation=str(event["error"]))


async def _settle(future: asyncio.Future[Any]) -> None:
    """Wait until `future` is done, through any cancellation of the caller (the caller
    re-raises its own cancellation afterwards). Bounded: engine calls time out."""
    while not future.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait({future})


def _explain(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)
