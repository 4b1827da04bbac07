"""The set of servers one supervisor manages, built from the config, addressed by name."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from supervisor import paths
from supervisor.command import LaunchFacts, LaunchSpec, fill, render
from supervisor.config import Config
from supervisor.errors import UnknownServerError
from supervisor.ports import PortAllocator
from supervisor.server import ManagedServer, ServerContext


class Fleet:
    def __init__(self, config: Config, http: httpx.AsyncClient) -> None:
        self.config = config
        settings = config.supervisor
        self.state_dir = paths.state_dir(settings.state_dir)
        self._engine_python = str(paths.engine_python(settings.engine_python))
        self._models_dir = str(paths.models_dir(settings.models_dir))
        ctx = ServerContext(
            render=self._render,
            ports=PortAllocator("127.0.0.1", *settings.port_range),
            http=http,
            log_dir=self.state_dir / "logs",
        )
        self._servers = {name: ManagedServer(name, ctx) for name in config.servers}

    def _render(self, name: str, port: int) -> LaunchSpec:
        spec = self.config.servers[name]
        facts = LaunchFacts(
            host="127.0.0.1",
            port=port,
            engine_python=self._engine_python,
            models_dir=self._models_dir,
            gpu_memory_utilization=spec.gpu_memory_fraction or 0.9,
        )
        return render(self.config, name, facts)

    def get(self, name: str) -> ManagedServer:
        try:
            return self._servers[name]
        except KeyError:
            raise UnknownServerError(name) from None

    async def ensure(self, name: str) -> dict[str, Any]:
        server = self.get(name)
        await server.ensure()
        return self.describe(server, memory=False)

    async def stop(self, name: str) -> dict[str, Any]:
        server = self.get(name)
        await server.stop()
        return self.describe(server)

    async def stop_all(self) -> None:
        await asyncio.gather(*(s.stop() for s in self._servers.values()))

    def describe(self, server: ManagedServer, memory: bool = True) -> dict[str, Any]:
        spec = self.config.servers[server.name]
        return {
            **server.snapshot(memory),
            "model": fill(spec.model, {"models_dir": self._models_dir}),
            "served_name": self.config.served_name(server.name),
            "tier": spec.tier,
            "capabilities": list(spec.capabilities),
        }

    def describe_all(self) -> list[dict[str, Any]]:
        return [self.describe(s) for s in self._servers.values()]
