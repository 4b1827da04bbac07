"""The supervisor's admin HTTP API, used by the proxy and the `modelyard` CLI.

Listens on localhost by default: it can start and stop processes, so it is not for the world.
Beyond loopback it needs a token; on any address it answers only its own Host names and no
web page (supervisor/admin_auth.py).
Errors use the same OpenAI shape as the proxy, so one client parses both.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI

from modelyard_config import Config, ConfigError
from supervisor.admin_auth import AdminGuard, AdminGuardMiddleware, refuse_open
from supervisor.admin_errors import add_error_handlers
from supervisor.admin_routes import build_router
from supervisor.adoption import adopt_survivors
from supervisor.budgets import never_fit_problems
from supervisor.client import admin_token
from supervisor.devices import open_reader
from supervisor.errors import SupervisorError
from supervisor.fleet import Fleet, instance_of
from supervisor.launchers import Launchers
from supervisor.metrics import Metrics
from supervisor.monitor import Monitor
from supervisor.process_launcher import ProcessLauncher
from supervisor.state_lock import StateLock
from supervisor.vllm_api import VllmEngine

if TYPE_CHECKING:
    from supervisor.docker_launcher import DockerLauncher

log = logging.getLogger("modelyard.supervisor")


def create_app(
    config: Config, source: str = "servers.yaml", environ: Mapping[str, str] | None = None
) -> FastAPI:
    """A ConfigError, before anything starts, when the API would listen beyond loopback
    without a token (`environ`, default os.environ, may hold it)."""
    token = admin_token(config.supervisor, os.environ if environ is None else environ)
    refuse_open(config.supervisor, token, source)
    # remote servers are the proxy's alone (LiteLLM): nothing here starts, places or lists them
    config = config.local()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reader, why = open_reader(config.supervisor.simulate_gpus_gb)
        log.info("%s", why)
        # trust_env=False: probes go to 127.0.0.1 and must never go through an HTTP proxy.
        async with httpx.AsyncClient(trust_env=False) as http:
            problems = never_fit_problems(config, reader.read())
            if problems:
                raise ConfigError(source, problems)
            launcher = launchers_for(config)
            fleet = Fleet(config, reader, Metrics(), VllmEngine(http), launcher)
            # Before adoption, which kills what it does not know, and before the fleet is
            # published: a refused second supervisor must not touch the first one's servers.
            lock = StateLock(fleet.state_dir)
            app.state.fleet = fleet
            adopted, killed = await adopt_survivors(fleet)
            if adopted or killed:
                log.info("restart safety: adopted %s; stopped orphans %s", adopted, killed)
            background = [asyncio.create_task(Monitor(fleet).run())]
            background += [
                asyncio.create_task(_boot(fleet, s.name))
                for s in fleet.servers()
                if s.tier == "hot"
            ]
            try:
                yield
            finally:
                log.info("supervisor shutting down")
                for task in background:
                    task.cancel()
                await fleet.shutdown()  # stops every server, unless supervisor.keep_servers
                await launcher.close()
                lock.release()
                reader.close()

    app = FastAPI(title="modelyard supervisor", lifespan=lifespan)
    add_error_handlers(app)
    app.add_middleware(AdminGuardMiddleware, guard=AdminGuard(config.supervisor, token))
    app.include_router(build_router())
    return app


def launchers_for(config: Config) -> Launchers:
    """Processes always; containers when a server says `launcher: docker`, or when a previous
    supervisor recorded a container (the Docker SDK is imported only then)."""
    process = ProcessLauncher(config.supervisor.env_passthrough)
    settings = config.supervisor
    instance = instance_of(settings)  # what Fleet.instance will be: the sweep must match it

    def docker() -> DockerLauncher:
        from supervisor.docker_launcher import DockerLauncher

        return DockerLauncher(settings.docker, instance)

    configured = any(s.launcher == "docker" for s in config.servers.values())
    return Launchers(process, docker, containers_configured=configured)


async def _boot(fleet: Fleet, name: str) -> None:
    """Hot servers start with the supervisor; a failure is logged, not fatal."""
    try:
        await fleet.ensure(name)
    except SupervisorError as exc:
        log.error("hot server %s did not start: %s", name, exc)
