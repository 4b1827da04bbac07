"""Every malformed request of fuzz/corpus.py against the in-process app, with the shipped CPU
profile's routes and degradations over a fake fleet (fuzz/fleet.py) that is always up: no
answer may be a 5xx, and every error must be in the shape of its API (Anthropic's for the
Messages API, OpenAI's for the rest). `make fuzz` sends the same corpus to a real
`modelyard up`, after schemathesis. The fleet's answers to the APIs beyond chat are
harness/fake_vllm.py's, in vLLM's shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import yaml
from aiohttp import web

from fuzz.corpus import GOOD, Case, cases, well_shaped
from fuzz.fleet import fake_fleet
from harness import fake_vllm, loopback
from harness.media import silent_wav
from harness.stack import CPU_PROFILE
from modelyard_config import parse_config
from proxy.app import create_app
from tests.component.test_proxy_app import FakeAdmin


async def _generate(request: web.Request) -> web.Response:
    body = await request.json()
    message = {"role": "assistant", "content": "ok"}
    choice = {"index": 0, "message": message, "text": "ok", "finish_reason": "stop"}
    return web.json_response({"id": "x", "model": body.get("model"), "choices": [choice]})


async def _transcribe(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"text": "fake transcript"})


async def _speak(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=silent_wav(), content_type="audio/wav")


async def _pool(request: web.Request) -> web.Response:
    return web.json_response(fake_vllm.pooled(request.path, await request.json()))


async def _respond(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response(fake_vllm.response_object(body, "ok", "completed"))


async def _message(request: web.Request) -> web.Response:
    return web.json_response(fake_vllm.message_object(await request.json(), "ok"))


async def _count(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response({"input_tokens": fake_vllm.words(fake_vllm.chat_text(body))})


@pytest.fixture(scope="module")
def corpus() -> list[Case]:
    return cases()


@pytest.fixture
async def proxy() -> AsyncIterator[httpx.AsyncClient]:
    upstream = web.Application(client_max_size=64 * 1024 * 1024)
    upstream.router.add_post("/v1/chat/completions", _generate)
    upstream.router.add_post("/v1/completions", _generate)
    upstream.router.add_post("/v1/audio/transcriptions", _transcribe)
    upstream.router.add_post("/v1/audio/translations", _transcribe)
    upstream.router.add_post("/v1/audio/speech", _speak)
    for path in fake_vllm.POOLING:
        upstream.router.add_post(path, _pool)
    upstream.router.add_post("/v1/responses", _respond)
    upstream.router.add_post("/v1/messages", _message)
    upstream.router.add_post("/v1/messages/count_tokens", _count)
    profile = yaml.safe_load(CPU_PROFILE.read_text())
    fake_fleet(profile, lambda caps: {"model": "m", "capabilities": caps})
    async with loopback.serving(upstream) as url:
        app = create_app(parse_config(profile), FakeAdmin(url))
        async with app.router.lifespan_context(app):
            # a bug answers 500 here as it would on the wire, so every case is reported
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://proxy") as client:
                yield client


async def test_the_fleet_answers_so_a_5xx_below_is_the_proxys_own(
    proxy: httpx.AsyncClient,
) -> None:
    chat = {"messages": [{"role": "user", "content": "hi"}]}
    assert (await proxy.post("/v1/chat/completions", json=chat)).status_code == 200
    spoken = await proxy.post("/v1/audio/speech", json={"input": "hi", "voice": "alloy"})
    assert spoken.status_code == 200
    files = {"file": ("a.wav", silent_wav(), "audio/wav")}
    heard = await proxy.post("/v1/audio/transcriptions", data={"model": "whisper-1"}, files=files)
    assert heard.status_code == 200
    for path, body in GOOD.items():
        answer = await proxy.post(path, json=body)
        assert answer.status_code == 200, (path, answer.text)


async def test_no_malformed_request_gets_a_5xx_and_every_error_is_in_its_apis_shape(
    proxy: httpx.AsyncClient, corpus: list[Case]
) -> None:
    faults = []
    for case in corpus:
        headers = {"content-type": case.content_type} if case.content_type else {}
        response = await proxy.request(case.method, case.path, content=case.body, headers=headers)
        if response.status_code >= 500:
            faults.append(f"{case.name}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400 and not well_shaped(case.path, response.content):
            faults.append(f"{case.name}: {response.status_code} misshapen: {response.text[:200]}")
    assert faults == [], f"{len(faults)} of {len(corpus)}:\n" + "\n".join(faults)
