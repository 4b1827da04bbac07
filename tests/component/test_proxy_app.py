"""The proxy's ASGI app end to end, without a supervisor or vLLM: a fake supervisor client
(which server is "ready" where, and which cannot start) and a fake upstream (a real aiohttp
server on loopback that answers as vLLM would, or fails on cue).

Why fakes here: this tier checks the proxy's own decisions (rewrite, fallback, degradation,
headers, error shapes) in milliseconds and on cue; the same paths against the real supervisor
and real vLLM run in tests/integration (test_serving, test_faults, test_speech).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.applications import Starlette

from harness import loopback
from modelyard_config import Config, parse_config
from proxy.app import create_app
from supervisor.errors import CapacityError, StartFailedError


@dataclass
class FakeAdmin:
    """Stands in for supervisor.client.AdminClient: every server is ready at the fake upstream,
    except those told to fail to start or to have no room."""

    base_url: str
    broken: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        self.asked.append(name)
        if name in self.broken:
            raise StartFailedError(name, "exited with code 3 while starting", 3, ["boom"])
        if name in self.full:
            raise CapacityError(name, "every device is full", 7.0)
        return {"name": name, "state": "ready", "base_url": self.base_url}

    async def server(self, name: str) -> dict[str, Any]:
        return {"name": name, "state": "ready", "base_url": self.base_url}

    async def waits(self, names: list[str]) -> list[dict[str, Any]]:
        """What the supervisor predicts: ready now, or never for those that cannot start."""
        return [
            {"server": n, "ready": True, "seconds": 0.0, "reason": f"{n} is ready"}
            if n not in self.broken | self.full
            else {"server": n, "ready": False, "seconds": None, "reason": f"{n} cannot fit"}
            for n in names
        ]


@dataclass
class Upstream:
    """What the fake upstream saw, and how it should fail: by served name."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)


SEEN = web.AppKey("seen", Upstream)


async def _chat(request: web.Request) -> web.StreamResponse:
    upstream: Upstream = request.app[SEEN]
    body = await request.json()
    upstream.bodies.append(body)
    model = body["model"]
    if model in upstream.failing:
        return web.json_response({"error": {"message": "engine died"}}, status=500)
    answer = "beta" if model == "oracle-served" else f"hello from {model}"
    if body.get("stream"):
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for word in answer.split():
            chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        return response
    message = {"role": "assistant", "content": answer}
    return web.json_response(
        {"id": "c1", "created": 1, "model": model, "choices": [{"index": 0, "message": message}]}
    )


async def _speech(request: web.Request) -> web.Response:
    request.app[SEEN].bodies.append(await request.json())
    return web.Response(body=b"RIFF fake wav", content_type="audio/wav")


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    seen = Upstream()
    app = web.Application()
    app[SEEN] = seen
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/audio/speech", _speech)
    async with loopback.serving(app) as url:
        seen.url = url
        yield seen


def config(**proxy: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {
                "retry": {"attempts": 1},
                "degrade": {"audio_out": {"text_with": "agent", "speak_with": "tts"}},
                **proxy,
            },
            "servers": {
                "a": {"model": "m", "served_name": "a-served"},
                "b": {"model": "m", "served_name": "b-served"},
                "tts-sc": {"model": "v", "served_name": "tts-1", "capabilities": ["speech"]},
                "oracle": {"model": "o", "served_name": "oracle-served"},
            },
            "routes": {"agent": ["a", "b"], "tts": ["tts-sc"], "billing": ["b"]},
            "classifier": {
                "default_intents": False,
                "default": "alpha",
                "threshold": 0.5,
                "triage": "oracle",
                "intents": {
                    "alpha": {"route": "agent", "cues": ["invoice"], "description": "chat"},
                    "beta": {"route": "billing", "cues": ["invoice"], "description": "billing"},
                    "tts": {"outputs": ["audio"], "cues": ["read aloud"]},
                },
            },
        }
    )


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app, in-process, with the app's lifespan run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
            yield client


@pytest.fixture
async def proxy(upstream: Upstream) -> AsyncIterator[tuple[httpx.AsyncClient, FakeAdmin]]:
    admin = FakeAdmin(upstream.url)
    async with serving(create_app(config(), admin)) as client:
        yield client, admin


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


async def test_a_request_is_forwarded_with_model_rewritten_and_says_where_it_went(
    proxy: tuple[httpx.AsyncClient, FakeAdmin], upstream: Upstream
) -> None:
    client, admin = proxy
    response = await client.post("/v1/chat/completions", json=chat("hi", model="agent"))
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "hello from a-served"
    assert upstream.bodies[-1]["model"] == "a-served"
    headers = response.headers
    assert (headers["x-modelyard-model"], headers["x-modelyard-route"]) == ("a", "agent")
    assert (headers["x-modelyard-attempts"], headers["x-modelyard-tried"]) == ("1", "a:ok")
    assert admin.asked == ["a"]


async def test_a_primary_answering_5xx_falls_back_down_the_chain(
    proxy: tuple[httpx.AsyncClient, FakeAdmin], upstream: Upstream
) -> None:
    client, _ = proxy
    upstream.failing.add("a-served")
    response = await client.post("/v1/chat/completions", json=chat("hi", model="agent"))
    assert response.status_code == 200
    assert response.headers["x-modelyard-tried"] == "a:5xx,b:ok"
    assert [body["model"] for body in upstream.bodies] == ["a-served", "b-served"]


async def test_a_primary_that_cannot_start_falls_back_down_the_chain(
    proxy: tuple[httpx.AsyncClient, FakeAdmin],
) -> None:
    client, admin = proxy
    admin.broken.add("a")
    response = await client.post("/v1/chat/completions", json=chat("hi", model="agent"))
    assert response.headers["x-modelyard-tried"] == "a:start,b:ok"
    metrics = (await client.get("/metrics")).text
    assert 'modelyard_fallbacks_total{from="a",reason="start",to="b"} 1.0' in metrics


async def test_when_every_candidate_fails_the_503_names_each_try(
    proxy: tuple[httpx.AsyncClient, FakeAdmin],
) -> None:
    client, admin = proxy
    admin.broken.add("a")
    admin.full.add("b")
    response = await client.post("/v1/chat/completions", json=chat("hi", model="agent"))
    assert response.status_code == 503
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "all_candidates_failed"
    assert "a (start" in error["message"] and "b (capacity" in error["message"]
    assert response.headers["x-modelyard-tried"] == "a:start,b:capacity"


async def test_a_stream_is_relayed_event_by_event(
    proxy: tuple[httpx.AsyncClient, FakeAdmin],
) -> None:
    client, _ = proxy
    body = chat("hi", model="b", stream=True)
    async with client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    words = [json.loads(e[6:])["choices"][0]["delta"]["content"] for e in events[:-1]]
    assert words == ["hello", "from", "b-served"] and events[-1] == "data: [DONE]"


async def test_a_spoken_answer_is_composed_from_two_chains(
    proxy: tuple[httpx.AsyncClient, FakeAdmin], upstream: Upstream
) -> None:
    client, _ = proxy
    body = chat("hi", model="agent", modalities=["text", "audio"], audio={"format": "wav"})
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["audio"]["transcript"] == "hello from a-served"
    assert response.headers["x-modelyard-degraded"] == "audio_out->speech"
    assert response.headers["x-modelyard-spoken-by"] == "tts-sc"
    assert upstream.bodies[-1] == {
        "model": "tts-1",
        "input": "hello from a-served",
        "voice": "alloy",
        "response_format": "wav",
    }
    said = await client.post("/route", json=body)
    assert said.json()["degrade"] == "audio_out->speech"


async def test_triage_asks_its_server_through_the_chain(
    proxy: tuple[httpx.AsyncClient, FakeAdmin], upstream: Upstream
) -> None:
    client, admin = proxy
    answer = (await client.post("/route", json=chat("an invoice question"))).json()
    assert (answer["stage"], answer["intent"], answer["route"]) == ("triage", "beta", "billing")
    assert admin.asked == ["oracle"]  # the supervisor was asked for it, like any server
    assert upstream.bodies[-1]["model"] == "oracle-served"
    metrics = (await client.get("/metrics")).text
    assert 'modelyard_attempts_total{outcome="ok",server="oracle"} 1.0' in metrics


async def test_input_no_server_takes_is_a_400_naming_what_each_lacks(
    proxy: tuple[httpx.AsyncClient, FakeAdmin],
) -> None:
    client, admin = proxy
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {"model": "agent", "messages": [{"role": "user", "content": [image]}]}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_input", "messages")
    assert "a cannot take image" in error["message"] and admin.asked == []


async def test_bad_requests_get_openai_shaped_errors(
    proxy: tuple[httpx.AsyncClient, FakeAdmin],
) -> None:
    client, _ = proxy
    broken = await client.post("/v1/chat/completions", content=b"{not json")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_request"
    unknown = await client.post("/v1/chat/completions", json=chat("hi", model="gpt-7"))
    assert unknown.status_code == 404 and unknown.json()["error"]["param"] == "model"
    nowhere = await client.get("/v1/nowhere")
    assert nowhere.status_code == 404 and set(nowhere.json()["error"]) >= {"message", "type"}


async def test_api_keys_are_required_when_configured(upstream: Upstream) -> None:
    app = create_app(config(api_keys=["sk-right"]), FakeAdmin(upstream.url))
    body = chat("hi", model="agent")
    async with serving(app) as client:
        missing = await client.post("/v1/chat/completions", json=body)
        wrong = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-wrong"}
        )
        right = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": "Bearer sk-right"}
        )
        stray = await client.post(  # a byte no ASCII key has: still a 401, never a 500
            "/v1/chat/completions", json=body, headers={b"authorization": b"Bearer sk-\xe9"}
        )
    assert missing.status_code == wrong.status_code == stray.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert right.status_code == 200
