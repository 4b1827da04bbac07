"""The whole of servers.yaml: its sections, and the lookups every reader of it needs.

Building a `Config` has no side effects; reading a file is `loading.load_config`, and what
the per-field schema cannot see (names that point nowhere) is `checks`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelyard_config.classifier import ClassifierSettings
from modelyard_config.fields import Name, ServerName, Strict
from modelyard_config.proxy import ProxySettings
from modelyard_config.retry import RetryPolicy
from modelyard_config.servers import ServerSpec
from modelyard_config.supervisor import SupervisorSettings


class Config(Strict):
    supervisor: SupervisorSettings = SupervisorSettings()
    proxy: ProxySettings = ProxySettings()
    servers: dict[ServerName, ServerSpec]
    routes: dict[Name, Annotated[list[str], Field(min_length=1)]] = {}
    # Interchangeable servers (replicas, or equals): a route names the group where it would
    # name one of them, and each request is balanced among them (proxy/balance.py).
    groups: dict[Name, Annotated[list[str], Field(min_length=2)]] = {}
    aliases: dict[Name, str] = {}
    classifier: ClassifierSettings = ClassifierSettings()

    def members(self, name: str) -> list[str]:
        """The servers a chain's entry stands for: a group's members, or the server itself."""
        return self.groups.get(name) or [name]

    def route_servers(self, route: str) -> list[str]:
        """A route's servers in chain order, each group's members in its place."""
        return [server for entry in self.routes.get(route, []) for server in self.members(entry)]

    def retry_policy(self, route: str | None, server: str) -> RetryPolicy:
        own = self.servers[server].retry
        if own is not None:
            return own
        return self.proxy.route_retry.get(route or "", self.proxy.retry)

    def intent_route(self, intent: str) -> str:
        return self.classifier.intents[intent].route_name(intent)

    def idle_ttl(self, server: str) -> float | None:
        spec = self.servers[server]
        return spec.idle_ttl if spec.idle_ttl is not None else self.supervisor.defaults.idle_ttl

    def served_name(self, server: str) -> str:
        return self.servers[server].served_name or server

    def remote_servers(self) -> list[str]:
        """The servers the proxy calls through LiteLLM (`remote:`), in config order."""
        return [name for name, spec in self.servers.items() if spec.remote is not None]

    def local(self) -> Config:
        """This config as the supervisor sees it: only the servers it runs. Remote servers
        are never started or placed, so the supervisor never hears of them."""
        if not self.remote_servers():
            return self
        kept = {name: spec for name, spec in self.servers.items() if spec.remote is None}
        return self.model_copy(update={"servers": kept})

    def supervisor_url(self) -> str:
        if self.proxy.supervisor_url:
            return self.proxy.supervisor_url.rstrip("/")
        return f"http://{self.supervisor.host}:{self.supervisor.port}"
