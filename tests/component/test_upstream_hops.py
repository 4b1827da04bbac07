"""What the proxy sends upstream and what it holds against a server: the headers a sidecar
reads, the request id end to end, and the breaker and cached addresses through failures that
are not the server's fault (a cancelled trial, a full connection pool, an evicted server, a
used-up port range).

The upstream is a real aiohttp server on loopback that records what reached it and answers
late or holds a stream open on cue; the supervisor is a fake client (FakeAdmin) that says
where each server is, or raises the supervisor's own errors: these paths need the proxy's
decisions on cue, in milliseconds. The breaker tests drive a `Chain` directly, with a clock
of their own, so that a cooldown passes without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
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
from proxy.backends import Backends
from proxy.bodies import JsonBody
from proxy.fallback import AllCandidatesFailedError, Chain
from proxy.forward import upstream_session
from proxy.metrics import ProxyMetrics
from proxy.resolve import Plan
from proxy.retry import BreakerState
from supervisor.errors import CapacityError, NoFreePortError

CHAT = "/v1/chat/completions"


@dataclass
class FakeAdmin:
    """Stands in for supervisor.client.AdminClient: each server is ready at `urls[name]`
    (the default URL if absent), unless `errors[name]` says how its start fails."""

    url: str
    urls: dict[str, str] = field(default_factory=dict)
    errors: dict[str, Exception] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        self.asked.append(name)
        if name in self.errors:
            raise self.errors[name]
        return {"name": name, "state": "ready", "base_url": self.urls.get(name, self.url)}

    async def server(self, name: str) -> dict[str, Any]:
        return {"name": name, "state": "ready", "base_url": self.urls.get(name, self.url)}

    async def waits(self, names: list[str]) -> list[dict[str, Any]]:
        return [{"server": n, "ready": True, "seconds": 0.0, "reason": "ready"} for n in names]


@dataclass
class Upstream:
    """What reached the fake upstream, and how it answers: `hold` keeps a request (or, with
    `stream_first`, a stream after its first event) waiting until it is set."""

    url: str = ""
    headers: list[dict[str, str]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    hold: asyncio.Event | None = None
    stream_first: bool = False
    delay: float = 0.0
    keep_alive: bool = True
    stop: Callable[[], Awaitable[None]] | None = None  # closes its port: a server gone

    @property
    def served(self) -> int:
        """Requests that reached it."""
        return len(self.headers)


SEEN = web.AppKey("seen", Upstream)


async def _answer(request: web.Request) -> web.StreamResponse:
    upstream = request.app[SEEN]
    body = await request.json()
    upstream.headers.append({k.lower(): v for k, v in request.headers.items()})
    upstream.arrived.set()
    if upstream.delay:
        await asyncio.sleep(upstream.delay)  # the scenario: a slow upstream, not a sync point
    if body.get("stream") or upstream.stream_first:
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
    answer = {"id": "c1", "choices": [{"index": 0, "message": message}]}
    return web.json_response(answer, headers={} if upstream.keep_alive else {"connection": "close"})


@contextlib.asynccontextmanager
async def running_upstream() -> AsyncIterator[Upstream]:
    seen = Upstream()
    app = web.Application()
    app[SEEN] = seen
    app.router.add_post(CHAT, _answer)
    async with loopback.serving(app) as url:
        seen.url = url
        yield seen


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with running_upstream() as seen:
        yield seen


def config(retry: dict[str, Any] | None = None, **proxy: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {
                "retry": retry or {"attempts": 1},
                "cooldown": {"failures": 1, "window": 60, "period": 30},
                **proxy,
            },
            "servers": {
                "a": {"model": "m", "served_name": "a-served"},
                "b": {"model": "m", "served_name": "b-served"},
            },
            "routes": {"agent": ["a", "b"], "solo": ["a"]},
        }
    )


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            yield client


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plan(*candidates: str) -> Plan:
    return Plan(requested="agent", intent=None, route="agent", candidates=candidates)


BODY = JsonBody({"messages": [{"role": "user", "content": "hi"}]})


# -- what reaches the upstream ------------------------------------------------------------


async def test_routing_headers_and_the_request_id_reach_the_upstream_but_credentials_do_not(
    upstream: Upstream,
) -> None:
    """The TTS sidecar reads x-modelyard-language as its hint: it must arrive."""
    app = create_app(config(api_keys=["sk-secret"]), FakeAdmin(upstream.url))
    sent = {"authorization": "Bearer sk-secret", "cookie": "session=1", "x-request-id": "abc-1"}
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("hi", model="agent"), headers=sent)
    assert response.status_code == 200, response.text
    arrived = upstream.headers[-1]
    assert arrived["x-modelyard-language"] == response.headers["x-modelyard-language"] == "en"
    assert arrived["x-modelyard-route"] == "agent"
    assert arrived["x-modelyard-intent"] == response.headers["x-modelyard-intent"]
    assert arrived["x-request-id"] == "abc-1"
    assert "authorization" not in arrived and "cookie" not in arrived


# -- request ids --------------------------------------------------------------------------


async def test_a_request_id_is_made_when_absent_and_kept_when_sane(upstream: Upstream) -> None:
    async with serving(create_app(config(), FakeAdmin(upstream.url))) as client:
        made = await client.post(CHAT, json=chat("hi", model="agent"))
        kept = await client.post(
            CHAT, json=chat("hi", model="agent"), headers={"x-request-id": "job-7.retry_2"}
        )
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert upstream.headers[0]["x-request-id"] == made.headers["x-request-id"]
    assert kept.headers["x-request-id"] == "job-7.retry_2"
    assert upstream.headers[1]["x-request-id"] == "job-7.retry_2"


@pytest.mark.parametrize("bad", ["a" * 129, "has space", "new\\nline", "semi;colon", "ünï"])
async def test_an_insane_request_id_is_replaced(upstream: Upstream, bad: str) -> None:
    async with serving(create_app(config(), FakeAdmin(upstream.url))) as client:
        response = await client.post(
            CHAT, json=chat("hi", model="agent"), headers={"x-request-id": bad.encode()}
        )
    said = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", said)
    assert upstream.headers[-1]["x-request-id"] == said
    assert response.headers.get_list("x-request-id") == [said]


async def test_errors_and_streams_carry_the_request_id(upstream: Upstream) -> None:
    app = create_app(config(api_keys=["sk-right"]), FakeAdmin(upstream.url))
    key = {"authorization": "Bearer sk-right"}
    async with serving(app) as client:
        unauthorised = await client.post(CHAT, json=chat("hi"), headers={"x-request-id": "u1"})
        bad_json = await client.post(CHAT, content=b"{", headers={**key, "x-request-id": "b1"})
        nowhere = await client.get("/v1/nowhere", headers={**key, "x-request-id": "n1"})
        body = chat("hi", model="agent", stream=True)
        headers = {**key, "x-request-id": "s1"}
        async with client.stream("POST", CHAT, json=body, headers=headers) as stream:
            events = [line async for line in stream.aiter_lines() if line]
    assert (unauthorised.status_code, unauthorised.headers["x-request-id"]) == (401, "u1")
    assert (bad_json.status_code, bad_json.headers["x-request-id"]) == (400, "b1")
    assert (nowhere.status_code, nowhere.headers["x-request-id"]) == (404, "n1")
    assert stream.headers["x-request-id"] == "s1" and events[-1] == "data: [DONE]"


async def test_one_log_line_per_request_with_its_id_and_no_secrets(
    upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(config(api_keys=["sk-secret"]), FakeAdmin(upstream.url))
    headers = {"authorization": "Bearer sk-secret", "x-request-id": "line-1"}
    caplog.set_level(logging.INFO, logger="modelyard.proxy")
    async with serving(app) as client:
        await client.post(CHAT, json=chat("the secret prompt", model="agent"), headers=headers)
        await client.get("/v1/nowhere", headers={**headers, "x-request-id": "line-2"})
    lines = [r.getMessage() for r in caplog.records if "request_id=" in r.getMessage()]
    assert len(lines) == 2
    served, missing = lines
    assert served.startswith(f"POST {CHAT} 200 ")
    assert re.search(r" \d+\.\d ms ", served)
    assert "model=a " in served and "route=agent " in served and "request_id=line-1" in served
    assert missing.startswith("GET /v1/nowhere 404 ") and "request_id=line-2" in missing
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert "sk-secret" not in everything and "the secret prompt" not in everything


# -- the breaker through failures that are not the server's --------------------------------


async def test_a_skipped_server_counts_as_a_fallback_and_a_refusal_mid_trial_says_when(
    upstream: Upstream,
) -> None:
    """Soak findings: a breaker's skip was missing from modelyard_fallbacks_total, and a
    request refused while a half-open trial was in flight got a 503 with no Retry-After."""
    clock = Clock()
    async with upstream_session(5, 60) as session:
        metrics = ProxyMetrics()
        backends = Backends(FakeAdmin(upstream.url), clock=clock)
        chain = Chain(config(), backends, session, metrics, clock=clock)
        chain.breaker("a").failed(clock.now)
        served = await chain.send(plan("a", "b"), CHAT, BODY, {})
        assert served.headers["x-modelyard-tried"] == "a:cooldown,b:ok"
        moved = metrics.registry.get_sample_value(
            "modelyard_fallbacks_total", {"from": "a", "to": "b", "reason": "cooldown"}
        )
        assert moved == 1.0
        clock.now += 31  # cooled down: the next request is the trial, and it is held
        upstream.hold = asyncio.Event()
        upstream.arrived.clear()  # set by b's answer above
        trial = asyncio.create_task(chain.send(plan("a"), CHAT, BODY, {}))
        await upstream.arrived.wait()
        with pytest.raises(AllCandidatesFailedError) as refused:
            await chain.send(plan("a"), CHAT, BODY, {})
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        upstream.hold.set()
    assert refused.value.headers["retry-after"] == "1"


async def test_a_cancelled_trial_does_not_leave_the_breaker_half_open(upstream: Upstream) -> None:
    """Issue: a trial whose client went away left the server skipped until a restart."""
    clock = Clock()
    async with upstream_session(5, 60) as session:
        admin = FakeAdmin(upstream.url)
        chain = Chain(config(), Backends(admin, clock=clock), session, ProxyMetrics(), clock=clock)
        chain.breaker("a").failed(clock.now)
        clock.now += 31  # cooled down: the next request is the trial
        upstream.hold = asyncio.Event()
        trial = asyncio.create_task(chain.send(plan("a"), CHAT, BODY, {}))
        await upstream.arrived.wait()
        trial.cancel()  # the client went away mid-trial
        with pytest.raises(asyncio.CancelledError):
            await trial
        upstream.hold.set()
        clock.now += 1
        response = await chain.send(plan("a"), CHAT, BODY, {})
    assert response.headers["x-modelyard-tried"] == "a:ok"
    assert chain.breaker("a").state is BreakerState.CLOSED


async def test_a_trial_refused_for_capacity_lets_the_next_request_try(upstream: Upstream) -> None:
    clock = Clock()
    async with upstream_session(5, 60) as session:
        admin = FakeAdmin(upstream.url, errors={"a": CapacityError("a", "full", 5.0)})
        chain = Chain(config(), Backends(admin, clock=clock), session, ProxyMetrics(), clock=clock)
        chain.breaker("a").failed(clock.now)
        clock.now += 31
        with pytest.raises(AllCandidatesFailedError):
            await chain.send(plan("a"), CHAT, BODY, {})
        del admin.errors["a"]
        clock.now += 1
        response = await chain.send(plan("a"), CHAT, BODY, {})
    assert response.headers["x-modelyard-tried"] == "a:ok"


async def test_a_full_connection_pool_is_not_blamed_on_a_healthy_server(
    upstream: Upstream,
) -> None:
    """Issue: aiohttp's `connect` timeout also bounds the wait for a free pooled connection,
    so under load a wait in the proxy's own queue opened a healthy server's breaker."""
    upstream.delay = 0.2  # each answer takes longer than the connect timeout below
    clock = Clock()
    async with upstream_session(0.05, 60, pool_limit=1) as session:
        admin = FakeAdmin(upstream.url)
        chain = Chain(config(), Backends(admin, clock=clock), session, ProxyMetrics(), clock=clock)
        answers = await asyncio.gather(
            *(chain.send(plan("a"), CHAT, BODY, {}) for _ in range(4)), return_exceptions=True
        )
    tried = [
        a.headers["x-modelyard-tried"] if not isinstance(a, BaseException) else a for a in answers
    ]
    assert tried == ["a:ok"] * 4
    assert chain.breaker("a").state is BreakerState.CLOSED and not chain.breaker("a").failures


async def test_a_first_byte_deadline_spent_waiting_for_the_pool_is_not_the_servers(
    upstream: Upstream,
) -> None:
    """The route's first_byte_timeout also runs while a request waits for a pooled
    connection; running out there says the proxy is busy, not that the server is down."""
    upstream.stream_first, upstream.hold = True, asyncio.Event()
    clock = Clock()
    retry = {"attempts": 1, "first_byte_timeout": 0.1}
    async with upstream_session(5, 60, pool_limit=1) as session:
        admin = FakeAdmin(upstream.url)
        chain = Chain(
            config(retry), Backends(admin, clock=clock), session, ProxyMetrics(), clock=clock
        )
        holding = await chain.send(plan("a"), CHAT, BODY, {})  # a stream holds the one connection
        with pytest.raises(AllCandidatesFailedError) as queued:
            await chain.send(plan("a"), CHAT, BODY, {})
        upstream.hold.set()
        assert holding.status_code == 200
        await holding.body_iterator.aclose()  # type: ignore[attr-defined]
    assert queued.value.headers["x-modelyard-tried"] == "a:pool"
    assert chain.breaker("a").state is BreakerState.CLOSED and not chain.breaker("a").failures


@pytest.mark.parametrize("kept_alive", [True, False], ids=["pooled-conn-closed", "refused"])
async def test_a_remembered_address_gone_after_an_eviction_asks_the_supervisor_again(
    upstream: Upstream, kept_alive: bool
) -> None:
    """The proxy remembers a ready server's URL for 2 s; the supervisor may have stopped it
    since. The refusal (or the closed kept-alive connection) is the supervisor's news, not
    the server's failure."""
    clock = Clock()
    async with upstream_session(5, 60) as session:
        admin = FakeAdmin(upstream.url)
        chain = Chain(config(), Backends(admin, clock=clock), session, ProxyMetrics(), clock=clock)
        async with running_upstream() as evicted:
            evicted.keep_alive = kept_alive
            admin.urls["a"] = evicted.url
            first = await chain.send(plan("a"), CHAT, BODY, {})
        # `evicted` is stopped now, its port refuses; the supervisor has `a` elsewhere
        del admin.urls["a"]
        second = await chain.send(plan("a"), CHAT, BODY, {})
    assert first.headers["x-modelyard-tried"] == "a:ok"
    assert second.headers["x-modelyard-tried"] == "a:stale,a:ok"
    assert admin.asked == ["a", "a"]
    assert chain.breaker("a").state is BreakerState.CLOSED and not chain.breaker("a").failures


async def test_a_used_up_port_range_moves_down_the_chain_without_blaming_the_server(
    upstream: Upstream,
) -> None:
    clock = Clock()
    async with upstream_session(5, 60) as session:
        admin = FakeAdmin(upstream.url, errors={"a": NoFreePortError("no free port in 8100-8101")})
        chain = Chain(config(), Backends(admin, clock=clock), session, ProxyMetrics(), clock=clock)
        response = await chain.send(plan("a", "b"), CHAT, BODY, {})
    assert response.headers["x-modelyard-tried"] == "a:ports,b:ok"
    assert chain.breaker("a").state is BreakerState.CLOSED and not chain.breaker("a").failures


async def test_an_unexpected_error_in_a_trial_frees_it_and_still_answers_with_the_id(
    upstream: Upstream,
) -> None:
    """A bug below the chain (here the supervisor client raising what it never should) must
    neither hold the breaker half-open nor leave the client's 500 without its id."""
    admin = FakeAdmin(upstream.url, errors={"a": RuntimeError("a bug")})
    app = create_app(config(), admin)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            chain = app.state.proxy.composer.chain
            chain.breaker("a").failed(chain.clock() - 31)  # cooled down: the next is a trial
            broken = await client.post(
                CHAT, json=chat("hi", model="solo"), headers={"x-request-id": "bug-1"}
            )
            del admin.errors["a"]
            healed = await client.post(CHAT, json=chat("hi", model="solo"))
    assert broken.status_code == 500 and broken.headers["x-request-id"] == "bug-1"
    assert broken.json()["error"]["message"] == "internal error: RuntimeError: a bug"
    assert healed.status_code == 200 and healed.headers["x-modelyard-tried"] == "a:ok"
