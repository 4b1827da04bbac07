"""The admin API's door: it refuses to start beyond loopback without a token; with one, every
call but /health carries it; on any address it answers only its own Host names and no web page
(an Origin from elsewhere); the shared client sends the token.

The API is the real app (supervisor.api.create_app) in-process, its fleet the component tier's
fleet on fakes (tests/component/supervisor_fakes.py says why), its lifespan not run: these
tests are about the door, not about starting servers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelyard_config import ConfigError, parse_config
from supervisor.api import create_app
from supervisor.client import AdminClient, admin_token
from supervisor.errors import SupervisorError
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, rig, server

TOKEN = "admin-secret-token"


def settings(**supervisor: Any) -> Any:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}, **supervisor},
            "servers": {"a": {"model": "m"}},
            "routes": {"agent": ["a"]},
        }
    )


@contextlib.asynccontextmanager
async def admin_api(
    tmp_path: Path, environ: dict[str, str] | None = None, **supervisor: Any
) -> AsyncIterator[tuple[FastAPI, Any]]:
    app = create_app(settings(**supervisor), "test.yaml", environ or {})
    async with rig(tmp_path, {"a": server(1)}, FakeGpus(10)) as r:
        app.state.fleet = r.fleet
        yield app, r


def client(app: FastAPI, host: str = "127.0.0.1:4100") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}")


def test_beyond_loopback_without_a_token_it_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as info:
        create_app(settings(host="0.0.0.0"), "test.yaml", {})
    [(path, message)] = info.value.problems
    assert path == "supervisor.admin_token"
    assert "0.0.0.0" in message and "$MODELYARD_ADMIN_TOKEN" in message
    create_app(settings(host="0.0.0.0"), "test.yaml", {"MODELYARD_ADMIN_TOKEN": TOKEN})
    create_app(settings(host="0.0.0.0", admin_token=TOKEN), "test.yaml", {})
    create_app(settings(host="localhost"), "test.yaml", {})
    with pytest.raises(ConfigError):  # an empty variable is no token
        create_app(settings(host="10.1.2.3"), "test.yaml", {"MODELYARD_ADMIN_TOKEN": ""})


def test_the_token_is_the_configs_else_the_variable_it_names() -> None:
    env = {"MODELYARD_ADMIN_TOKEN": "from-default-var", "OPS_TOKEN": "from-named-var"}
    assert admin_token(settings(admin_token="in-config").supervisor, env) == "in-config"
    assert admin_token(settings().supervisor, env) == "from-default-var"
    assert admin_token(settings(admin_token_env="OPS_TOKEN").supervisor, env) == "from-named-var"
    assert admin_token(settings().supervisor, {}) is None


async def test_with_a_token_every_call_but_health_must_carry_it(tmp_path: Path) -> None:
    async with admin_api(tmp_path, admin_token=TOKEN) as (app, _), client(app) as http:
        missing = await http.get("/servers")
        wrong = await http.get("/servers", headers={"authorization": "Bearer not-the-token"})
        right = await http.get("/servers", headers={"authorization": f"bearer  {TOKEN}"})
        health = await http.get("/health")
    assert missing.status_code == wrong.status_code == 401
    error = wrong.json()["error"]
    assert (error["type"], error["code"]) == ("authentication_error", "invalid_admin_token")
    assert "supervisor.admin_token" in error["message"] and TOKEN not in wrong.text
    assert right.status_code == 200 and right.json()["servers"][0]["name"] == "a"
    assert health.status_code == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:4100", 200),
        ("localhost:4100", 200),
        ("[::1]:4100", 200),
        ("admin.internal:8443", 200),  # supervisor.admin_allowed_hosts, any port
        ("evil.example:4100", 403),  # a page's own name, rebound to 127.0.0.1
        ("127.0.0.1:9999", 403),  # another port: not this API
        ("localhost", 403),  # port 80 implied
    ],
)
async def test_only_its_own_host_names_are_answered(tmp_path: Path, host: str, status: int) -> None:
    extra = {"admin_allowed_hosts": ["admin.internal"]}
    async with admin_api(tmp_path, **extra) as (app, _), client(app, host) as http:
        answer = await http.get("/servers")
    assert answer.status_code == status
    if status == 403:
        assert answer.json()["error"]["code"] == "host_not_allowed"


async def test_a_web_page_cannot_stop_a_server(tmp_path: Path) -> None:
    async with admin_api(tmp_path) as (app, r), client(app) as http:
        await r.fleet.ensure("a")
        foreign = await http.post("/servers/a/stop", headers={"origin": "http://evil.example"})
        sandboxed = await http.post("/servers/a/stop", headers={"origin": "null"})
        assert r.fleet.get("a").state is State.READY
        own = await http.post("/servers/a/stop", headers={"origin": "http://127.0.0.1:4100"})
        assert r.fleet.get("a").state is State.STOPPED
    assert foreign.status_code == sandboxed.status_code == 403
    assert foreign.json()["error"]["code"] == "origin_not_allowed"
    assert own.status_code == 200


async def test_the_admin_client_sends_its_token(tmp_path: Path) -> None:
    async with admin_api(tmp_path, admin_token=TOKEN) as (app, _):
        transport = httpx.ASGITransport(app=app)
        url = "http://127.0.0.1:4100"
        async with AdminClient(url, token=TOKEN, transport=transport) as good:
            servers = await good.servers()
        async with AdminClient(url, transport=transport) as tokenless:
            with pytest.raises(SupervisorError, match="admin token"):
                await tokenless.servers()
    assert [s["name"] for s in servers] == ["a"]
