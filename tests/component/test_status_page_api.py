"""The status page's JSON and files (issue 18), end to end in one process: the proxy's real
app relays the supervisor's REAL admin API (its routes and error handlers over a fleet on the
component tier's fakes, tests/component/supervisor_fakes.py says why) through the real
AdminClient. What the page reads (servers, devices with who holds them, the queue, access),
what only the operator may do (load, unload, sleep, wake, pin, unpin, log tails) and how it
is refused (401 without the admin token, 403 with none configured, 404 for a remote or unknown
server), a supervisor that does not answer, the ring of recent requests as chats fill it, API
keys that are checked but not counted for the page's polls, and the page's files under their
Content-Security-Policy.

The ring and the keys are read with test_proxy_app's FakeAdmin (every server ready at a fake
upstream, which fails on cue) given the three reads the page asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from modelyard_config import Config, parse_config
from proxy.app import create_app
from proxy.ui.routes import POLICY, STATIC
from proxy.ui.views import SERVER_FIELDS
from supervisor.admin_errors import add_error_handlers
from supervisor.admin_routes import build_router
from supervisor.client import AdminClient
from supervisor.fleet import Fleet
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, GiB, Rig, rig, server, until
from tests.component.test_proxy_app import FakeAdmin, Upstream, chat, serving
from tests.component.test_proxy_app import config as fake_config
from tests.component.test_proxy_app import upstream as upstream  # a fixture: its fake upstream

TOKEN = "ui-admin-token-7c1d"
OPERATOR = {"x-modelyard-admin-token": TOKEN}
WRONG = {"x-modelyard-admin-token": "not-the-token"}
SERVERS = {"a": server(3, "warm"), "b": server(4)}
# what the admin API's describe() has and the page must never show
HIDDEN = ("command", "env", "log_path", "base_url", "log_tail", "pid", "model", "image")
ENTRY = {*SERVER_FIELDS, "remote"}
STATE = "/ui/api/state"
KEY = "sk-ui-test-key-0001"
REMOTE_KEY_ENV = "MODELYARD_TEST_UI_REMOTE_KEY"


@pytest.fixture(autouse=True)
def no_admin_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is the config's here: one from the developer's shell would change the tests."""
    monkeypatch.delenv("MODELYARD_ADMIN_TOKEN", raising=False)


def proxy_config(token: str | None = TOKEN, **servers: dict[str, Any]) -> Config:
    supervisor: dict[str, Any] = {"defaults": {"command": ["serve", "{model}"]}}
    if token is not None:
        supervisor["admin_token"] = token
    return parse_config(
        {
            "supervisor": supervisor,
            "proxy": {"retry": {"attempts": 1}},
            "servers": {"a": {"model": "m"}, "b": {"model": "m"}, **servers},
            "routes": {"agent": ["a", "b"]},
        }
    )


def supervisor_app(fleet: Fleet) -> FastAPI:
    """The admin API's routes and error handlers as supervisor.api builds them; its door
    (host, origin, token) is test_admin_access.py's."""
    app = FastAPI()
    add_error_handlers(app)
    app.include_router(build_router())
    app.state.fleet = fleet
    return app


@dataclass
class Page:
    http: httpx.AsyncClient
    rig: Rig

    async def state(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.http.get(STATE, headers=headers)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    async def act(
        self, name: str, action: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(f"/ui/api/servers/{name}/{action}", headers=headers)

    async def entry(self, name: str) -> dict[str, Any]:
        state = await self.state()
        found: dict[str, Any] = next(s for s in state["servers"] if s["name"] == name)
        return found

    async def until_state(
        self, condition: Callable[[dict[str, Any]], object], what: str
    ) -> dict[str, Any]:
        """The state once `condition(state)` holds: a poll, as the page does (a reading is
        kept up to half a second)."""
        latest: dict[str, Any] = {}

        async def check() -> bool:
            nonlocal latest
            latest = await self.state()
            return bool(condition(latest))

        deadline = time.monotonic() + 5.0
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last state: {latest}")
            await asyncio.sleep(0.02)  # the poll's period, not synchronisation
        return latest


@contextlib.asynccontextmanager
async def page(
    tmp_path: Path, config: Config | None = None, gib: float = 16
) -> AsyncIterator[Page]:
    async with rig(tmp_path, SERVERS, FakeGpus(gib)) as r:
        transport = httpx.ASGITransport(app=supervisor_app(r.fleet))
        async with (
            AdminClient("http://supervisor", transport=transport) as admin,
            serving(create_app(config or proxy_config(), admin)) as http,
        ):
            yield Page(http, r)


def error_of(response: httpx.Response, status: int, code: str | None) -> dict[str, Any]:
    """The error body, checked to be OpenAI's shape with this status and code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error


def holders(state: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = state["devices"]["devices"][0]["holders"]
    return found


def shows_nothing_hidden(servers: list[dict[str, Any]]) -> None:
    for entry in servers:
        assert set(entry) == ENTRY, entry
        assert not set(HIDDEN) & set(entry), entry


# -- the state ---------------------------------------------------------------------------


async def test_the_state_shows_every_server_the_devices_the_queue_and_who_asks(
    tmp_path: Path,
) -> None:
    async with page(tmp_path) as p:
        response = await p.http.get(STATE)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        state = response.json()
        assert abs(state["at"] - time.time()) < 60
        assert state["proxy"]["pid"] == os.getpid() and state["proxy"]["workers"] == 1
        assert state["access"] == {"keys": False, "token_configured": True, "operator": False}
        assert state["supervisor"] == {"ok": True, "error": None}

        servers = state["servers"]
        assert [s["name"] for s in servers] == ["a", "b"]
        assert [s["state"] for s in servers] == ["stopped", "stopped"]
        assert [s["tier"] for s in servers] == ["warm", "cold"]
        assert all(s["remote"] is False and s["pinned"] is False for s in servers)
        assert servers[0]["budget_bytes"] > 0
        shows_nothing_hidden(servers)

        devices = state["devices"]
        assert devices["kind"] == "gpu"
        [gpu] = devices["devices"]
        assert gpu["total"] == 16 * GiB
        assert 0 < gpu["ceiling"] <= gpu["total"]
        assert gpu["planned"] == 0 and gpu["holders"] == []
        assert {"key", "name", "total", "ceiling", "planned", "used", "free"} <= set(gpu)

        assert state["queue"]["policy"] == "arrival"
        assert state["queue"]["waiting"] == [] and state["queue"]["loading"] == []
        assert state["requests"] == []

        assert (await p.state(OPERATOR))["access"]["operator"] is True
        assert (await p.state(WRONG))["access"]["operator"] is False


async def test_a_server_waiting_for_room_shows_in_the_queue(tmp_path: Path) -> None:
    """a (3 GiB) pinned and ready on a 5 GiB device: b (4 GiB) waits for room."""
    async with page(tmp_path, gib=5) as p:
        assert (await p.act("a", "pin", OPERATOR)).status_code == 200
        assert (await p.act("a", "load", OPERATOR)).status_code == 200
        waiting = asyncio.create_task(p.rig.fleet.ensure("b"))
        try:
            await until(lambda: p.rig.fleet.room.count("b") == 1, "b waiting for room")
            state = await p.until_state(lambda s: s["queue"]["waiting"], "b in the queue")
            [entry] = state["queue"]["waiting"]
            b = next(s for s in state["servers"] if s["name"] == "b")
            assert entry["server"] == "b" and entry["count"] == 1 and b["waiting"] == 1
            assert entry["predicted_wait_s"] == (b["predicted_wait"] or {}).get("seconds")
            [request] = entry["requests"]
            assert request["waited_s"] >= 0
        finally:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await waiting


# -- actions -----------------------------------------------------------------------------


async def test_pin_without_the_admin_token_is_refused_and_pins_nothing(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        for headers in (None, WRONG, {"authorization": f"Bearer {TOKEN}"}):
            error = error_of(await p.act("a", "pin", headers), 401, "invalid_admin_token")
            assert error["type"] == "authentication_error"
            assert "admin token" in error["message"]
            assert TOKEN not in error["message"]
        assert p.rig.fleet.get("a").usage.pinned is False
        assert (await p.entry("a"))["pinned"] is False


async def test_pin_and_unpin_with_the_token(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        response = await p.act("a", "pin", OPERATOR)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        done = response.json()
        assert done["name"] == "a" and done["pinned"] is True
        shows_nothing_hidden([done])
        assert p.rig.fleet.get("a").usage.pinned is True
        assert (await p.entry("a"))["pinned"] is True, "the next poll shows it at once"

        response = await p.act("a", "unpin", OPERATOR)
        assert response.status_code == 200 and response.json()["pinned"] is False
        assert p.rig.fleet.get("a").usage.pinned is False
        assert (await p.entry("a"))["pinned"] is False


async def test_load_then_the_device_lists_it_with_its_budget_then_unload(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        assert (await p.state())["servers"][0]["state"] == "stopped"  # a reading is kept
        response = await p.act("a", "load", OPERATOR)
        assert response.status_code == 200, response.text
        loaded = response.json()
        assert loaded["state"] == "ready" and isinstance(loaded["port"], int)
        assert p.rig.fleet.get("a").state is State.READY
        assert len(p.rig.launcher.running()) == 1

        state = await p.state()
        a = next(s for s in state["servers"] if s["name"] == "a")
        assert a["state"] == "ready" and a["uptime_s"] is not None and a["starts"] == 1
        shows_nothing_hidden(state["servers"])  # base_url and the command are set now
        budget = a["budget_bytes"]
        assert budget > 0
        assert holders(state) == [{"server": "a", "bytes": budget, "state": "ready"}]
        assert state["devices"]["devices"][0]["planned"] == budget

        response = await p.act("a", "unload", OPERATOR)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "stopped"
        assert p.rig.fleet.get("a").state is State.STOPPED and p.rig.launcher.running() == []
        state = await p.state()
        assert state["servers"][0]["state"] == "stopped"
        assert holders(state) == [] and state["devices"]["devices"][0]["planned"] == 0


async def test_sleep_and_wake_a_ready_server(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        assert (await p.act("a", "load", OPERATOR)).status_code == 200
        response = await p.act("a", "sleep", OPERATOR)
        assert response.status_code == 200, response.text
        assert (response.json()["state"], response.json()["sleep_level"]) == ("asleep", 1)
        assert p.rig.fleet.get("a").state is State.ASLEEP
        state = await p.state()
        assert state["servers"][0]["state"] == "asleep"
        assert holders(state) == [], "an asleep server holds no planned GPU memory"

        response = await p.act("a", "wake", OPERATOR)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "ready"
        assert p.rig.fleet.get("a").state is State.READY
        assert [call for call, _ in p.rig.engine.calls] == ["sleep", "wake"]


async def test_what_the_supervisor_refuses_comes_back_with_its_reason(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        error = error_of(await p.act("b", "sleep", OPERATOR), 409, "action_failed")
        assert "sleep" in error["message"] and "b" in error["message"]
        assert p.rig.fleet.get("b").state is State.STOPPED


async def test_an_unknown_server_or_action_is_a_404(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        error = error_of(await p.act("nope", "load", OPERATOR), 404, "server_not_found")
        assert "nope" in error["message"]
        error = error_of(await p.act("a", "explode", OPERATOR), 404, "action_not_found")
        assert "load" in error["message"] and error["param"] == "action"
        logs = await p.http.get("/ui/api/servers/nope/logs", headers=OPERATOR)
        error_of(logs, 404, "server_not_found")
        error_of(await p.http.get("/ui/api/nope", headers=OPERATOR), 404, None)
        # an action is a POST, the state and logs a GET: the others in the same shape
        error_of(await p.http.get("/ui/api/servers/a/load", headers=OPERATOR), 405, None)
        error_of(await p.http.post(STATE, headers=OPERATOR), 405, None)
        assert p.rig.launcher.handles == []


async def test_a_servers_log_tail_needs_the_token_and_can_be_followed(tmp_path: Path) -> None:
    async with page(tmp_path) as p:
        assert (await p.act("a", "load", OPERATOR)).status_code == 200
        url = "/ui/api/servers/a/logs"
        error_of(await p.http.get(url), 401, "invalid_admin_token")
        error_of(await p.http.get(url, headers=WRONG), 401, "invalid_admin_token")

        response = await p.http.get(url, headers=OPERATOR)
        assert response.status_code == 200, response.text
        tail = response.json()
        assert set(tail) == {"text", "offset"}
        log_bytes = p.rig.fleet.get("a").log_path.read_bytes()
        assert tail["text"] and tail["offset"] == len(log_bytes)

        with p.rig.fleet.get("a").log_path.open("a") as log:
            log.write("INFO: a line written later\n")
        more = await p.http.get(url, params={"offset": tail["offset"]}, headers=OPERATOR)
        assert more.json()["text"] == "INFO: a line written later\n"

        for bad in ("abc", "1.5", str(2**60)):
            error = error_of(
                await p.http.get(url, params={"offset": bad}, headers=OPERATOR),
                400,
                "invalid_request",
            )
            assert error["param"] == "offset" and "offset" in error["message"]


async def test_with_no_admin_token_configured_the_page_is_read_only(tmp_path: Path) -> None:
    async with page(tmp_path, proxy_config(token=None)) as p:
        for action in ("load", "pin", "sleep"):
            error = error_of(await p.act("a", action, OPERATOR), 403, "ui_actions_disabled")
            assert "supervisor.admin_token" in error["message"]
        logs = await p.http.get("/ui/api/servers/a/logs", headers=OPERATOR)
        error_of(logs, 403, "ui_actions_disabled")
        assert p.rig.launcher.handles == [] and p.rig.fleet.get("a").usage.pinned is False

        state = await p.state(OPERATOR)
        assert state["access"] == {"keys": False, "token_configured": False, "operator": False}
        assert [s["state"] for s in state["servers"]] == ["stopped", "stopped"]


async def test_a_remote_server_is_listed_and_cannot_be_acted_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing calls it here: the proxy's start begins LiteLLM's import all the same, and the
    teardown waits for it to end in its thread (a few seconds)."""
    monkeypatch.setenv(REMOTE_KEY_ENV, "sk-remote-never-shown")
    remote = {
        "model": "openai/hosted-model",
        "api_base": "http://127.0.0.1:1/v1",
        "api_key_env": REMOTE_KEY_ENV,
    }
    hosted = {"remote": remote, "served_name": "hosted-served", "capabilities": ["text"]}
    async with page(tmp_path, proxy_config(hosted=hosted)) as p:
        state = await p.state()
        assert [s["name"] for s in state["servers"]] == ["a", "b", "hosted"]
        entry = state["servers"][2]
        assert (entry["state"], entry["remote"]) == ("remote", True)
        assert entry["served_name"] == "hosted-served" and entry["capabilities"] == ["text"]
        assert entry["port"] is None and entry["budget_bytes"] is None
        shows_nothing_hidden(state["servers"])
        assert "sk-remote-never-shown" not in str(state) and "127.0.0.1:1" not in str(state)

        for action in ("load", "unload", "pin"):
            error = error_of(await p.act("hosted", action, OPERATOR), 404, "server_not_found")
            assert "remote" in error["message"]
        logs = await p.http.get("/ui/api/servers/hosted/logs", headers=OPERATOR)
        assert "remote" in error_of(logs, 404, "server_not_found")["message"]


# -- a supervisor that does not answer ----------------------------------------------------


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def test_without_the_supervisor_the_state_says_so_and_still_lists_requests() -> None:
    transport = httpx.MockTransport(refused)
    async with (
        AdminClient("http://127.0.0.1:9", transport=transport) as admin,
        serving(create_app(proxy_config(), admin)) as http,
    ):
        chatted = await http.post("/v1/chat/completions", json=chat("hi", model="agent"))
        assert chatted.status_code == 503, chatted.text

        response = await http.get(STATE)
        assert response.status_code == 200, response.text
        state = response.json()
        assert state["supervisor"]["ok"] is False
        assert "unreachable" in state["supervisor"]["error"]
        assert "connection refused" in state["supervisor"]["error"]
        assert state["servers"] == [] and state["devices"] is None and state["queue"] is None
        [row] = state["requests"]
        assert row["path"] == "/v1/chat/completions" and row["status"] == 503
        assert row["id"] == chatted.headers["x-request-id"]

        acted = await http.post("/ui/api/servers/a/load", headers=OPERATOR)
        error_of(acted, 503, "supervisor_unreachable")


# -- the ring of recent requests, as chats fill it -----------------------------------------


class PageAdmin(FakeAdmin):
    """test_proxy_app's FakeAdmin with the three reads the page asks for."""

    async def servers(self) -> list[dict[str, Any]]:
        return [{"name": name, "state": "ready"} for name in ("a", "b")]

    async def devices(self) -> dict[str, Any]:
        return {"kind": "simulated", "limit": None, "devices": []}

    async def schedule(self) -> dict[str, Any]:
        return {"policy": "arrival", "decision": None, "waiting": {}}


@contextlib.asynccontextmanager
async def relaying(upstream: Upstream, **proxy: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(fake_config(**proxy), PageAdmin(upstream.url))) as http:
        yield http


async def requests_of(http: httpx.AsyncClient, **headers: str) -> list[dict[str, Any]]:
    response = await http.get(STATE, headers=headers)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["requests"]
    return rows


async def test_a_chat_is_a_row_with_where_it_went(upstream: Upstream) -> None:
    async with relaying(upstream) as http:
        response = await http.post("/v1/chat/completions", json=chat("hi", model="auto"))
        assert response.status_code == 200, response.text
        [row] = await requests_of(http)
    headers = response.headers
    assert row["id"] == headers["x-request-id"]
    assert (row["method"], row["path"], row["status"]) == ("POST", "/v1/chat/completions", 200)
    # model auto: the fake triage server ("oracle") answers "beta", billing's intent
    said = tuple(headers[f"x-modelyard-{h}"] for h in ("model", "route", "intent", "language"))
    assert (row["model"], row["route"], row["intent"], row["language"]) == said
    assert said[:3] == ("b", "billing", "beta") and row["language"]
    assert row["tried"] == ["b:ok"] and row["fallback"] is False
    assert row["degraded"] is None
    assert row["ms"] > 0 and abs(row["at"] - time.time()) < 60
    assert "hi" not in str(row), "no body in a row"


async def test_a_chat_that_fell_back_is_marked_so(upstream: Upstream) -> None:
    upstream.failing.add("a-served")
    async with relaying(upstream) as http:
        response = await http.post("/v1/chat/completions", json=chat("hi", model="agent"))
        assert response.headers["x-modelyard-tried"] == "a:5xx,b:ok"
        [row] = await requests_of(http)
    assert row["tried"] == ["a:5xx", "b:ok"] and row["fallback"] is True
    assert row["model"] == "b" and row["status"] == 200


async def test_the_pages_own_polls_and_probes_are_not_rows(upstream: Upstream) -> None:
    async with relaying(upstream) as http:
        for _ in range(3):
            assert await requests_of(http) == []
        await http.get("/health")
        await http.get("/metrics")
        await http.get("/ui")
        await http.post("/ui/api/servers/a/pin")
        await http.post("/route", json=chat("hi", model="auto"))
        await http.post("/v1/chat/completions", json=chat("hi", model="agent"))
        rows = await requests_of(http)
    assert [row["path"] for row in rows] == ["/v1/chat/completions"]


async def test_the_ring_keeps_as_many_as_configured_newest_first(upstream: Upstream) -> None:
    async with relaying(upstream, ui={"recent_requests": 2}) as http:
        for n in (1, 2, 3):
            sent = await http.post(
                "/v1/chat/completions",
                json=chat("hi", model="agent"),
                headers={"x-request-id": f"req-{n}"},
            )
            assert sent.status_code == 200
        assert [row["id"] for row in await requests_of(http)] == ["req-3", "req-2"]


# -- API keys: checked for the page's JSON, never counted ---------------------------------


async def test_the_pages_json_needs_a_key_but_its_polls_use_none_of_the_keys_limit(
    upstream: Upstream,
) -> None:
    access = {"key_limits": {"requests_per_minute": 2}}
    auth = {"authorization": f"Bearer {KEY}"}
    async with relaying(upstream, api_keys=[KEY], access=access) as http:
        error_of(await http.get(STATE), 401, "invalid_api_key")
        wrong = await http.get(STATE, headers={"authorization": "Bearer sk-not-a-key-at-all"})
        error_of(wrong, 401, "invalid_api_key")
        error_of(await http.post("/ui/api/servers/a/pin"), 401, "invalid_api_key")
        assert (await http.get("/ui")).status_code == 200, "the page loads, then asks for a key"

        for _ in range(6):  # three times the key's requests per minute
            response = await http.get(STATE, headers=auth)
            assert response.status_code == 200, response.text
            assert response.json()["access"]["keys"] is True
        # past the key, the admin token's check: none configured here
        error_of(await http.post("/ui/api/servers/a/pin", headers=auth), 403, "ui_actions_disabled")

        body = chat("hi", model="agent")
        statuses = [
            (await http.post("/v1/chat/completions", json=body, headers=auth)).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429], "the /v1 requests are counted, the polls were not"
        # the key's minute is used up: the page it was given to still shows
        assert (await http.get(STATE, headers=auth)).status_code == 200


# -- the page's files ----------------------------------------------------------------------


@pytest.fixture
async def proxy_http(upstream: Upstream) -> AsyncIterator[httpx.AsyncClient]:
    async with relaying(upstream) as http:
        yield http


async def test_the_page_is_served_under_its_content_security_policy(
    proxy_http: httpx.AsyncClient,
) -> None:
    for path in ("/ui", "/ui/"):
        response = await proxy_http.get(path)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and policy == POLICY
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.text == (STATIC / "index.html").read_text()
    html = (await proxy_http.get("/ui")).text
    # what the policy would block: the page must need none of it
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert not re.search(r"\sstyle\s*=", html), "an inline style attribute"
    assert not re.search(r"\son[a-z]+\s*=", html), "an inline event handler"


async def test_the_pages_script_and_style_are_served_with_their_types(
    proxy_http: httpx.AsyncClient,
) -> None:
    html = (STATIC / "index.html").read_text()
    referenced = re.findall(r"""(?:src|href)="(/ui/static/[^"]+)\"""", html)
    assert referenced, "the page loads its script and style from /ui/static/"
    types = {".js": "text/javascript", ".css": "text/css"}
    for url in referenced:
        response = await proxy_http.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(types[Path(url).suffix]), url
        assert response.headers["content-security-policy"] == POLICY
    if not (STATIC / "app.js").exists():
        print("SKIP the app.js check: proxy/ui/static/app.js is not written yet")
        return
    response = await proxy_http.get("/ui/static/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == (STATIC / "app.js").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/ui/static/..%2fstatus.py",
        "/ui/static/..%2F..%2Fapp.py",
        "/ui/static/%2e%2e/status.py",
        "/ui/static/../status.py",
        "/ui/static/nope.js",
        "/ui/static/__init__.py",
        "/ui/static/",
    ],
)
async def test_only_the_pages_own_files_are_served(
    proxy_http: httpx.AsyncClient, path: str
) -> None:
    response = await proxy_http.get(path)
    assert response.status_code == 404, (path, response.text[:200])
    assert "import" not in response.text


async def test_with_the_page_off_neither_it_nor_its_json_is_served(upstream: Upstream) -> None:
    async with relaying(upstream, ui={"enabled": False}) as http:
        for path in ("/ui", "/ui/", "/ui/static/app.js", STATE):
            assert (await http.get(path)).status_code == 404, path
        assert (await http.post("/ui/api/servers/a/pin", headers=OPERATOR)).status_code == 404
        chatted = await http.post("/v1/chat/completions", json=chat("hi", model="agent"))
        assert chatted.status_code == 200, "the proxy itself is unchanged"
