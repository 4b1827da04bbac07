"""A group of equals behind the proxy app (issue 16): two real upstreams on loopback in one
group, and a third server after the group in the route. Requests spread over the members,
more go to the one that is not slow or busy, and a member that is down falls through to the
other, then to the rest of the chain; `x-modelyard-model` names the member that served.

Each upstream is test_upstream_hops' aiohttp server, which answers at once, late (`delay`),
holds a request (`hold`) or stops listening (`stop`): the scenarios need a member slow, busy or
down on cue. The supervisor is that file's fake client, which says every server is ready at its
upstream's URL, as the real one says of ready servers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from modelyard_config import Config, parse_config
from proxy.app import create_app
from tests.component.test_upstream_hops import (
    CHAT,
    FakeAdmin,
    Upstream,
    running_upstream,
    serving,
)

MEMBERS = ("a", "b")


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
        admin = FakeAdmin(upstreams["small"].url, {name: u.url for name, u in upstreams.items()})
        app = create_app(config(), admin)
        client = await exits.enter_async_context(serving(app))
        yield Stack(client, upstreams, admin)


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
    # a second, not less: after one such answer b's average is ~0.3 s (SMOOTHING), so only a
    # stall of a's that long on a busy box could make the two look equal (one CI run on a
    # shared machine saw b serve twice with 0.3 s)
    stack.upstreams["b"].delay = 1.0
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
