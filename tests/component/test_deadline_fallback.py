"""Deadline-aware fallback (issue 16): a request that will wait only so long for capacity is
served further down its chain at once when the supervisor predicts its primary is further off,
and every answer says how long it waited (`x-modelyard-waited`).

The upstream is test_upstream_hops' real aiohttp server on loopback; the supervisor is a fake
client that predicts waits from a script and "loads" a server by moving the chain's clock on
(`load_s`), or holds its ensure until the test lets go (`held`), so a load that outlasts the
max wait runs in real time only as long as that max wait (a tenth of a second).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from proxy.app import create_app
from proxy.backends import Backends
from proxy.fallback import AllCandidatesFailedError, Chain
from proxy.forward import upstream_session
from proxy.metrics import ProxyMetrics
from supervisor.errors import AdminUnreachableError
from tests.component.test_upstream_hops import (
    BODY,
    CHAT,
    Clock,
    Upstream,
    chat,
    config,
    plan,
    running_upstream,
    serving,
)

MAX_WAIT = "x-modelyard-max-wait"


@dataclass
class PredictingAdmin:
    """The supervisor's client as the proxy sees it: each server is ready at the upstream
    once its load is over. `predicted[name]`: seconds GET /waits says (0 ready, None cannot
    fit; absent: ready). `load_s[name]`: seconds its ensure moves `clock` on, a load
    that takes that long. `held`: servers whose ensure waits until `release` is set."""

    url: str
    clock: Clock | None = None
    predicted: dict[str, float | None] = field(default_factory=dict)
    load_s: dict[str, float] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    waits_fail: bool = False
    ensured: list[str] = field(default_factory=list)
    waits_asked: list[list[str]] = field(default_factory=list)

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        self.ensured.append(name)
        if name in self.held:
            await self.release.wait()
        if self.clock is not None:
            self.clock.now += self.load_s.get(name, 0.0)
        self.predicted[name] = 0.0  # loaded: ready from now on
        return {"name": name, "state": "ready", "base_url": self.url}

    async def server(self, name: str) -> dict[str, Any]:
        return {"name": name, "state": "ready", "base_url": self.url}

    async def waits(self, names: list[str]) -> list[dict[str, Any]]:
        self.waits_asked.append(names)
        if self.waits_fail:
            raise AdminUnreachableError("http://supervisor", "refused")
        return [self._wait(name) for name in names]

    def _wait(self, name: str) -> dict[str, Any]:
        seconds = self.predicted.get(name, 0.0)
        reason = f"{name} does not fit" if seconds is None else f"{name} in {seconds} s"
        return {"server": name, "ready": seconds == 0.0, "seconds": seconds, "reason": reason}


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with running_upstream() as seen:
        yield seen


@dataclass
class Rig:
    chain: Chain
    admin: PredictingAdmin
    metrics: ProxyMetrics


@pytest.fixture
async def rig(upstream: Upstream) -> AsyncIterator[Callable[..., Rig]]:
    """A chain over routes agent: [a, b]; `real_clock` for a wait that runs in real time."""
    async with upstream_session(5, 60) as session:

        def build(real_clock: bool = False, **proxy: Any) -> Rig:
            clock = Clock()
            admin = PredictingAdmin(upstream.url, None if real_clock else clock)
            ticks: Callable[[], float] = time.monotonic if real_clock else clock
            metrics = ProxyMetrics()
            backends = Backends(admin, clock=ticks)
            chain = Chain(config(**proxy), backends, session, metrics, clock=ticks)
            return Rig(chain, admin, metrics)

        yield build


def wait_for(seconds: float | str) -> dict[str, str]:
    return {MAX_WAIT: str(seconds)}


async def test_a_primary_predicted_past_the_max_wait_is_passed_over_for_a_ready_fallback(
    rig: Callable[..., Rig], upstream: Upstream
) -> None:
    r = rig()
    r.admin.predicted = {"a": 60.0, "b": 0.0}
    response = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(5))
    assert response.status_code == 200
    assert response.headers["x-modelyard-tried"] == "a:wait,b:ok"
    assert response.headers["x-modelyard-model"] == "b"
    assert response.headers["x-modelyard-waited"] == "0.000"
    # `a` is asked for in the background, not waited for: the supervisor counts it as wanted
    assert sorted(r.admin.ensured) == ["a", "b"]
    assert r.admin.waits_asked == [["a", "b"]]
    moved = r.metrics.registry.get_sample_value(
        "modelyard_fallbacks_total", {"from": "a", "to": "b", "reason": "wait"}
    )
    assert moved == 1.0
    assert r.metrics.registry.get_sample_value(
        "modelyard_attempts_total", {"server": "a", "outcome": "wait"}
    )
    # the max wait is the proxy's business: neither the upstream nor the answer carry it
    assert MAX_WAIT not in upstream.headers[-1] and MAX_WAIT not in response.headers
    async with asyncio.timeout(5):
        while not r.chain.backends.ready_now("a"):
            await asyncio.sleep(0)  # a loop turn: until the background answer is remembered
    again = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(5))
    assert again.headers["x-modelyard-tried"] == "a:ok", "later requests go back to it"


async def test_a_primary_predicted_within_the_max_wait_is_waited_for(
    rig: Callable[..., Rig],
) -> None:
    r = rig()
    r.admin.predicted = {"a": 2.0, "b": 0.0}
    r.admin.load_s = {"a": 2.0}
    response = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(5))
    assert response.headers["x-modelyard-tried"] == "a:ok"
    assert response.headers["x-modelyard-waited"] == "2.000"
    assert r.admin.ensured == ["a"]


async def test_without_a_max_wait_nothing_is_asked_and_the_primary_is_waited_for(
    rig: Callable[..., Rig],
) -> None:
    r = rig()
    r.admin.predicted = {"a": 60.0, "b": 0.0}
    r.admin.load_s = {"a": 60.0}
    response = await r.chain.send(plan("a", "b"), CHAT, BODY, {})
    assert response.headers["x-modelyard-tried"] == "a:ok"
    assert response.headers["x-modelyard-waited"] == "60.000"
    assert r.admin.waits_asked == []


async def test_a_known_ready_primary_costs_no_question_even_with_a_max_wait(
    rig: Callable[..., Rig],
) -> None:
    r = rig()
    await r.chain.send(plan("a", "b"), CHAT, BODY, {})  # now remembered as ready
    response = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(5))
    assert response.headers["x-modelyard-tried"] == "a:ok"
    assert r.admin.waits_asked == [] and r.admin.ensured == ["a"]


async def test_no_prediction_means_no_skipping(rig: Callable[..., Rig]) -> None:
    r = rig()
    r.admin.predicted = {"a": 60.0, "b": 0.0}
    r.admin.load_s = {"a": 3.0}
    r.admin.waits_fail = True
    response = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(5))
    assert response.headers["x-modelyard-tried"] == "a:ok"
    assert len(r.admin.waits_asked) == 1


async def test_the_routes_max_wait_applies_and_the_header_wins_over_it(
    rig: Callable[..., Rig],
) -> None:
    r = rig(route_max_wait={"agent": 5})
    r.admin.predicted = {"a": 60.0, "b": 0.0}
    by_route = await r.chain.send(plan("a", "b"), CHAT, BODY, {})
    assert by_route.headers["x-modelyard-tried"] == "a:wait,b:ok"
    r.admin.load_s = {"a": 60.0}
    patient = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(120))
    assert patient.headers["x-modelyard-tried"] == "a:ok"


async def test_a_load_that_outlasts_the_max_wait_moves_down_the_chain(
    rig: Callable[..., Rig],
) -> None:
    """The prediction said 0.05 s; the load takes longer. The request leaves after its max
    wait and is served by the fallback; the load goes on and serves the next request."""
    r = rig(real_clock=True)
    r.admin.predicted = {"a": 0.05, "b": 0.0}
    r.admin.held = {"a"}
    async with asyncio.timeout(5):  # a request that waited for the load itself would hang
        response = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(0.1))
    assert response.headers["x-modelyard-tried"] == "a:capacity,b:ok"
    assert 0.1 <= float(response.headers["x-modelyard-waited"]) < 5
    r.admin.release.set()
    async with asyncio.timeout(5):
        while r.admin.predicted["a"] != 0.0:  # the load (still asked for) completes
            await asyncio.sleep(0.01)
    again = await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(0.1))
    assert again.headers["x-modelyard-tried"] == "a:ok"
    assert r.admin.ensured == ["a", "b"]  # the second request found `a` remembered


async def test_a_chain_out_of_time_is_a_503_whose_retry_after_is_the_soonest_prediction(
    rig: Callable[..., Rig],
) -> None:
    r = rig(real_clock=True)
    r.admin.predicted = {"a": 60.0, "b": 41.5}
    r.admin.held = {"a"}
    with pytest.raises(AllCandidatesFailedError) as info:
        async with asyncio.timeout(5):
            await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(0.1))
    refused = info.value
    assert refused.headers["x-modelyard-tried"] == "a:capacity,b:wait"
    assert refused.headers["retry-after"] == "42"  # b's 41.5 s, rounded up
    assert refused.body()["error"]["code"] == "capacity_unavailable"
    assert 0.1 <= float(refused.headers["x-modelyard-waited"]) < 5
    assert "max wait 0.1 s spent" in refused.message
    assert r.admin.ensured == ["a"]
    r.admin.release.set()


async def test_a_fallback_cooling_down_is_no_reason_to_pass_the_primary_over(
    rig: Callable[..., Rig],
) -> None:
    """Passing `a` over for a `b` its breaker will skip would leave the request nowhere."""
    r = rig(real_clock=True)
    r.admin.predicted = {"a": 60.0, "b": 0.0}
    r.admin.held = {"a"}
    r.chain.breaker("b").failed(r.chain.clock())
    with pytest.raises(AllCandidatesFailedError) as info:
        async with asyncio.timeout(5):
            await r.chain.send(plan("a", "b"), CHAT, BODY, wait_for(0.1))
    assert info.value.headers["x-modelyard-tried"] == "a:capacity,b:cooldown"
    assert r.admin.ensured == ["a"]
    r.admin.release.set()


# -- through the app: the header, /route ------------------------------------------------------


async def test_the_header_reaches_the_chain_and_every_answer_says_what_it_waited(
    upstream: Upstream,
) -> None:
    admin = PredictingAdmin(upstream.url, predicted={"a": 60.0, "b": 0.0})
    admin.held = {"a"}  # a's load (asked for in the background) lasts until the end
    async with serving(create_app(config(), admin)) as client:
        served = await client.post(CHAT, json=chat("hi", model="agent"), headers=wait_for(5))
        admin.predicted = {"a": None, "b": None}
        admin.held = {"a", "b"}
        body = chat("hi", model="solo")
        async with asyncio.timeout(5):
            refused = await client.post(CHAT, json=body, headers=wait_for("0.05"))
        admin.release.set()
    assert served.status_code == 200, served.text
    assert served.headers["x-modelyard-tried"] == "a:wait,b:ok"
    assert float(served.headers["x-modelyard-waited"]) < 0.5, "b was ready: no wait for room"
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "capacity_unavailable"
    assert float(refused.headers["x-modelyard-waited"]) >= 0.05


async def test_a_malformed_header_is_a_400_before_anything_is_asked(upstream: Upstream) -> None:
    admin = PredictingAdmin(upstream.url)
    async with serving(create_app(config(), admin)) as client:
        relayed = await client.post(CHAT, json=chat("hi", model="agent"), headers=wait_for("soon"))
        routed = await client.post("/route", json=chat("hi", model="agent"), headers=wait_for(-1))
    for response in (relayed, routed):
        assert response.status_code == 400
        assert response.json()["error"]["param"] == MAX_WAIT
    assert admin.ensured == [] and admin.waits_asked == []


async def test_route_shows_each_candidates_predicted_wait(upstream: Upstream) -> None:
    admin = PredictingAdmin(upstream.url, predicted={"a": 42.0, "b": 0.0})
    async with serving(create_app(config(route_max_wait={"agent": 5}), admin)) as client:
        said = (await client.post("/route", json=chat("hi", model="agent"))).json()
        asked = await client.post("/route", json=chat("hi", model="agent"), headers=wait_for(9))
        admin.waits_fail = True
        blind = (await client.post("/route", json=chat("hi", model="agent"))).json()
    assert said["candidates"] == ["a", "b"]
    assert said["waits"] == [
        {"server": "a", "ready": False, "seconds": 42.0, "reason": "a in 42.0 s"},
        {"server": "b", "ready": True, "seconds": 0.0, "reason": "b in 0.0 s"},
    ]
    assert said["max_wait"] == 5 and asked.json()["max_wait"] == 9
    assert blind["waits"] is None and blind["candidates"] == ["a", "b"]
    assert admin.ensured == []  # /route starts nothing


async def test_an_answer_from_a_variant_says_so(rig: Callable[..., Rig]) -> None:
    """Fit by variant: the supervisor answers for `a` with a smaller server of the model."""
    r = rig()

    async def ensure_variant(name: str, max_wait: float | None = None) -> dict[str, Any]:
        r.admin.ensured.append(name)
        small = f"{name}-awq"
        return {"name": small, "variant_of": name, "state": "ready", "base_url": r.admin.url}

    r.admin.ensure = ensure_variant  # type: ignore[method-assign]
    response = await r.chain.send(plan("a", "b"), CHAT, BODY, {})
    assert response.status_code == 200
    assert response.headers["x-modelyard-model"] == "a"
    assert response.headers["x-modelyard-variant"] == "a-awq"
    r.admin.ensure = PredictingAdmin.ensure.__get__(r.admin)  # type: ignore[method-assign]
    r.chain.backends.forget("a")
    again = await r.chain.send(plan("a", "b"), CHAT, BODY, {})
    assert "x-modelyard-variant" not in again.headers, "the full model answered again"
