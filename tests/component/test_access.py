"""The proxy's keys and per-key limits, on the in-process app: keys from the config, the
environment and a file; the Bearer scheme as clients send it; 429 with Retry-After over a
key's rate and over its concurrency, the slot held for a stream's whole life and given back
when it ends or its client goes away; /metrics open unless the config closes it.

The supervisor's client is test_proxy_app's FakeAdmin (every server ready at the upstream);
the upstream is a real aiohttp server on loopback whose stream pauses after its first chunk
until the test lets it go, since a concurrency limit is only visible while a stream is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.types import Message

from harness import loopback
from modelyard_config import ConfigError
from proxy.app import create_app
from tests.component.test_proxy_app import FakeAdmin, chat, config, serving


class HeldUpstream:
    """Answers chat; a stream sends one chunk, says so (`holding`), and waits for `release`."""

    def __init__(self) -> None:
        self.url = ""
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            message = {"role": "assistant", "content": "hi"}
            return web.json_response({"id": "c", "choices": [{"index": 0, "message": message}]})
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.holding.set()
        await self.release.wait()
        await response.write(b"data: [DONE]\n\n")
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[HeldUpstream]:
    held = HeldUpstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", held.chat)
    async with loopback.serving(app) as url:
        held.url = url
        yield held
        held.release.set()


@contextlib.asynccontextmanager
async def proxy(upstream: HeldUpstream, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(config(**settings), FakeAdmin(upstream.url))) as client:
        yield client


def auth(key: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"authorization": f"{scheme} {key}"}


BODY = chat("hi", model="agent")


async def test_keys_from_the_environment_are_required(
    upstream: HeldUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELYARD_API_KEYS", "sk-from-env-1, sk-from-env-2")
    async with proxy(upstream) as client:
        without = await client.post("/v1/chat/completions", json=BODY)
        second = await client.post("/v1/chat/completions", json=BODY, headers=auth("sk-from-env-2"))
        route = await client.post("/route", json=BODY)
        models = await client.get("/v1/models")
    assert without.status_code == route.status_code == models.status_code == 401
    assert without.json()["error"]["code"] == "invalid_api_key"
    assert second.status_code == 200


async def test_keys_from_a_file_with_names_and_limits(
    upstream: HeldUpstream, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# team keys\nsk-file-alice alice rpm=1\n\nsk-file-bob  # no limits\n")
    async with proxy(upstream, access={"keys_file": str(keys)}) as client:
        alice = [
            await client.post("/v1/chat/completions", json=BODY, headers=auth("sk-file-alice"))
            for _ in range(2)
        ]
        bob = [
            await client.post("/v1/chat/completions", json=BODY, headers=auth("sk-file-bob"))
            for _ in range(3)
        ]
    assert [r.status_code for r in alice] == [200, 429]
    assert [r.status_code for r in bob] == [200, 200, 200]


async def test_a_bad_keys_file_stops_the_start_naming_file_and_line(
    upstream: HeldUpstream, tmp_path: Path
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("sk-file-alice alice\nsk-file-bob bob rmp=5\n")
    with pytest.raises(ConfigError) as info:
        async with proxy(upstream, access={"keys_file": str(keys)}):
            pass
    assert f"{keys}: line 2: unknown field 'rmp=5'" in str(info.value)
    assert "sk-file-bob" not in str(info.value)


async def test_the_bearer_scheme_in_lower_case_and_extra_spaces_are_accepted(
    upstream: HeldUpstream,
) -> None:
    async with proxy(upstream, api_keys=["sk-right-key"]) as client:
        lower = await client.post(
            "/v1/chat/completions", json=BODY, headers=auth("sk-right-key", "bearer")
        )
        spaced = await client.post(
            "/v1/chat/completions", json=BODY, headers={"authorization": "  BEARER   sk-right-key "}
        )
    assert lower.status_code == spaced.status_code == 200


async def test_over_the_rate_is_429_in_openais_shape_with_retry_after(
    upstream: HeldUpstream,
) -> None:
    access = {"keys": [{"key": "sk-limited-key", "name": "ci", "requests_per_minute": 2}]}
    async with proxy(upstream, access=access) as client:
        answers = [
            await client.post("/v1/chat/completions", json=BODY, headers=auth("sk-limited-key"))
            for _ in range(3)
        ]
        wrong = await client.post("/v1/chat/completions", json=BODY, headers=auth("sk-wrong-key"))
        metrics = (await client.get("/metrics", headers=auth("sk-limited-key"))).text
    assert [a.status_code for a in answers] == [200, 200, 429] and wrong.status_code == 401
    # counted by the key's name, never its value, and a wrong key under '-'
    assert 'modelyard_key_refusals_total{key="ci",limit="requests_per_minute"} 1.0' in metrics
    assert 'modelyard_key_refusals_total{key="-",limit="key"} 1.0' in metrics
    assert "sk-limited-key" not in metrics
    refused = answers[2]
    assert 1 <= int(refused.headers["retry-after"]) <= 30  # one token per 30 s at 2 a minute
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("requests", "rate_limit_exceeded")
    assert "2 requests per minute" in error["message"]
    assert "sk-limited-key" not in refused.text


async def test_a_held_stream_holds_its_slot_until_it_ends(upstream: HeldUpstream) -> None:
    access = {"keys": ["sk-one-at-a-time"], "key_limits": {"max_concurrent": 1}}
    headers = auth("sk-one-at-a-time")
    async with proxy(upstream, access=access) as client:
        streaming = asyncio.create_task(
            client.post("/v1/chat/completions", json={**BODY, "stream": True}, headers=headers)
        )
        await upstream.holding.wait()  # the proxy has relayed a first chunk: the stream is live
        second = await client.post("/v1/chat/completions", json=BODY, headers=headers)
        upstream.release.set()
        first = await streaming
        third = await client.post("/v1/chat/completions", json=BODY, headers=headers)
    assert second.status_code == 429 and "retry-after" in second.headers
    assert second.json()["error"]["code"] == "concurrency_limit_exceeded"
    assert first.status_code == 200 and first.text.endswith("data: [DONE]\n\n")
    assert third.status_code == 200, "the slot came back when the stream ended"


async def test_a_client_that_goes_away_mid_stream_gives_its_slot_back(
    upstream: HeldUpstream,
) -> None:
    """Driven through the ASGI interface itself, as uvicorn would: httpx's in-process transport
    has no way to hang up in the middle of a response."""
    access = {"keys": ["sk-one-at-a-time"], "key_limits": {"max_concurrent": 1}}
    app = create_app(config(access=access), FakeAdmin(upstream.url))
    gone = asyncio.Event()
    body = json.dumps({**BODY, "stream": True}).encode()
    sent: list[Message] = []
    read: list[bool] = []

    async def receive() -> Message:
        if not read:
            read.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", b"Bearer sk-one-at-a-time"), (b"host", b"proxy")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 4000),
    }
    async with serving(app) as client:
        scope["app"] = app
        scope["state"] = {}
        streaming = asyncio.create_task(app(scope, receive, send))
        await upstream.holding.wait()
        held = await client.post(
            "/v1/chat/completions", json=BODY, headers=auth("sk-one-at-a-time")
        )
        gone.set()  # the client hangs up; the upstream never finishes
        await streaming
        after = await client.post(
            "/v1/chat/completions", json=BODY, headers=auth("sk-one-at-a-time")
        )
    assert sent[0]["status"] == 200 and held.status_code == 429
    assert after.status_code == 200, "the slot came back when the client went away"


async def test_metrics_are_open_by_default_and_closed_by_the_setting(
    upstream: HeldUpstream,
) -> None:
    async with proxy(upstream, api_keys=["sk-right-key"]) as client:
        open_ = await client.get("/metrics")
    closed = {"keys": ["sk-right-key"], "metrics_need_key": True}
    async with proxy(upstream, access=closed) as client:
        refused = await client.get("/metrics")
        allowed = await client.get("/metrics", headers=auth("sk-right-key"))
    assert open_.status_code == 200 and allowed.status_code == 200
    assert refused.status_code == 401


async def test_without_keys_the_start_warns_that_anyone_may_call(
    upstream: HeldUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="modelyard.proxy"):
        async with proxy(upstream) as client:
            answer = await client.post("/v1/chat/completions", json=BODY)
    assert answer.status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "modelyard.proxy"]
    assert any("answers anyone who can reach 127.0.0.1:4000" in w for w in warnings), warnings
