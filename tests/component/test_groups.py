"""A group of equals behind the proxy app (issue 16): two real upstreams on loopback in one
group, and a third server after the group in the route. Requests spread over the members,
more go to the one that is not slow or busy, and a member that is down falls through to the
other, then to the rest of the chain; `x-modelyard-model` names the member that served.

Each upstream is an aiohttp server that answers at once, late (`delay`), holds a request
(`hold`) or stops listening (`stop`): the scenarios need a member slow, busy or down on cue.
The supervisor is a fake client that says every server is ready at its upstream's URL, as the
real one says of ready servers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette

from harness import loopback
from modelyard_config import Config, parse_config
from proxy.app import create_app

CHAT = "/v1/chat/completions"
MEMBERS = ("a", "b")


@dataclass
class Upstream:
    """One server's upstream: how many requests reached it, and how it answers."""

    url: str = ""
    served: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    delay: float = 0.0
    hold: asyncio.Event | None = None
    stop: Callable[[], Awaitable[None]] | None = None  # closes its port: a server gone


SEEN = web.AppKey("seen", Upstream)


async def _answer(request: web.Request) -> web.StreamResponse:
    upstream = request.app[SEEN]
    body = await request.json()
    upstream.served += 1
    upstream.arrived.set()
    if upstream.delay:
        await asyncio.sleep(upstream.delay)  # the scenario: a slow member, not a sync point
    if body.get("stream"):
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n')
        if upstream.hold is not None:
            await upstream.hold.wait()
        await response.write(b"data: [DONE]\n\n")
        return response
    if upstream.hold is not None:
        await upstream.hold.wait()
    message = {"role": "assistant", "content": f"hello from {body['model']}"}
    return web.json_response({"id": "c1", "choices": [{"index": 0, "message": message}]})


@contextlib.asynccontextmanager
async def running_upstream() -> AsyncIterator[Upstream]:
    seen = Upstream()
    app = web.Application()
    app[SEEN] = seen
    app.router.add_post(CHAT, _answer)
    async with loopback.serving(app) as url:
        seen.url = url
        yield seen


@dataclass
class FakeAdmin:
    """Stands in for supervisor.client.AdminClient: every server is ready at its URL."""

    urls: dict[str, str]

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        return {"name": name, "state": "ready", "base_url": self.urls[name]}

    async def server(self, name: str) -> dict[str, Any]:
        return {"name": name, "state": "ready", "base_url": self.urls[name]}

    async def waits(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"server": n, "ready": True, "seconds": 0.0, "reason": "ready"} for n in names]


def config() -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {
                "retry": {"attempts": 1},
                "cooldown": {"failures": 1, "window": 60, "period": 30},
            },
            "servers": {
                "a": {"model": "m", "served_name": "qwen"},
                "b": {"model": "m", "served_name": "qwen"},
                "small": {"model": "s"},
            },
            "groups": {"pool": list(MEMBERS)},
            "routes": {"agent": ["pool", "small"]},
        }
    )


@dataclass
class Stack:
    client: httpx.AsyncClient
    upstreams: dict[str, Upstream]
    admin: FakeAdmin

    async def ask(self, **extra: Any) -> httpx.Response:
        body = {"model": "agent", "messages": [{"role": "user", "content": "hi"}], **extra}
        response = await self.client.post(CHAT, json=body)
        assert response.status_code == 200, response.text
        return response

    async def served_by(self, count: int) -> Counter[str]:
        """Who served each of `count` requests sent one after the other."""
        return Counter([(await self.ask()).headers["x-modelyard-model"] for _ in range(count)])

    async def both_serving(self) -> None:
        """Until each member has served once: until then the proxy has measured neither."""
        async with asyncio.timeout(10):
            while not all(self.upstreams[m].served for m in MEMBERS):
                await self.ask()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as exits:
        upstreams = {}
        for name in (*MEMBERS, "small"):
            own = contextlib.AsyncExitStack()
            exits.push_async_callback(own.aclose)
            upstreams[name] = await own.enter_async_context(running_upstream())
            upstreams[name].stop = own.aclose
        admin = FakeAdmin({name: u.url for name, u in upstreams.items()})
        app = create_app(config(), admin)
        client = await exits.enter_async_context(serving(app))
        yield Stack(client, upstreams, admin)


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            yield client


async def stop(upstream: Upstream) -> None:
    assert upstream.stop is not None
    await upstream.stop()


async def test_equal_members_share_the_requests(stack: Stack) -> None:
    await stack.both_serving()
    served = await stack.served_by(10)
    # round-robin while they are equal; a hiccup of the box may make one look slower a while
    assert set(served) == {"a", "b"} and min(served.values()) >= 3, served
    assert stack.upstreams["small"].served == 0


async def test_a_slow_member_gets_fewer_requests(stack: Stack) -> None:
    await stack.both_serving()
    stack.upstreams["b"].delay = 0.3
    served = await stack.served_by(10)
    assert served["b"] <= 1, served  # the one that measured it slow, at most


async def test_a_busy_member_gets_the_next_requests(stack: Stack) -> None:
    """A stream held open on b is b's work in flight until its last byte: the requests that
    come meanwhile go to a."""
    await stack.both_serving()
    b = stack.upstreams["b"]
    b.hold, b.arrived = asyncio.Event(), asyncio.Event()
    held: list[asyncio.Task[httpx.Response]] = []
    try:
        async with asyncio.timeout(10):  # a request sent to b would wait for ever
            while not b.arrived.is_set():  # round-robin: this request or the next is b's
                held.append(asyncio.create_task(stack.ask(stream=True)))
                while not (held[-1].done() or b.arrived.is_set()):
                    await asyncio.sleep(0.005)  # a poll, under the deadline above
            served = await stack.served_by(6)
    finally:
        b.hold.set()
        answers = await asyncio.gather(*held)
    assert served == Counter(a=6)
    assert [r.headers["x-modelyard-model"] for r in answers][-1] == "b"


async def test_a_member_that_is_down_falls_through_to_the_other(stack: Stack) -> None:
    await stack.both_serving()
    await stop(stack.upstreams["b"])
    answers = [await stack.ask() for _ in range(4)]
    assert {r.headers["x-modelyard-model"] for r in answers} == {"a"}
    tried = [r.headers["x-modelyard-tried"] for r in answers]
    assert any(t.startswith("b:") and t.endswith(",a:ok") for t in tried), tried
    assert stack.upstreams["small"].served == 0


async def test_when_every_member_is_down_the_rest_of_the_chain_serves(stack: Stack) -> None:
    for member in MEMBERS:
        await stop(stack.upstreams[member])
    response = await stack.ask()
    assert response.headers["x-modelyard-model"] == "small"
    tried = response.headers["x-modelyard-tried"].split(",")
    assert sorted(t.split(":")[0] for t in tried[:2]) == ["a", "b"] and tried[2] == "small:ok"


async def test_a_group_is_a_model_and_is_listed(stack: Stack) -> None:
    await stack.both_serving()
    body = {"model": "pool", "messages": [{"role": "user", "content": "hi"}]}
    answers = [await stack.client.post(CHAT, json=body) for _ in range(4)]
    assert {r.headers["x-modelyard-model"] for r in answers} == {"a", "b"}
    assert {r.headers["x-modelyard-route"] for r in answers} == {"agent"}
    listed = (await stack.client.get("/v1/models")).json()["data"]
    assert {"id": "pool", "kind": "group"} in [
        {"id": m["id"], "kind": m["modelyard"]["kind"]} for m in listed
    ]
