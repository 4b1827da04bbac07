"""Remote servers (issue 17): a server the proxy calls through LiteLLM's SDK, here pointed
(`api_base`) at an in-process OpenAI-compatible upstream, so that its answers and failures
come on cue: plain and streamed chat, embeddings, a chain that falls from a local server to
the remote one and back, a 401 (`auth`), a 429 with Retry-After, a first-byte timeout, a
stream cut before its first byte and one cut after it.

LiteLLM is really imported and really speaks HTTP to the upstream; the supervisor is the
fake client of test_upstream_hops (FakeAdmin), the local server its recording upstream. The
first test to await LiteLLM's import pays its ~7 s; the rest find it imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from starlette.responses import StreamingResponse

from harness import loopback
from modelyard_config import Config, parse_config
from proxy.app import create_app
from proxy.backends import Backends
from proxy.bodies import JsonBody
from proxy.fallback import AllCandidatesFailedError, Chain
from proxy.forward import upstream_session
from proxy.metrics import ProxyMetrics
from proxy.remote import Remote, load_litellm
from proxy.resolve import Plan
from tests.component.test_upstream_hops import FakeAdmin, Upstream, running_upstream, serving

CHAT = "/v1/chat/completions"
KEY_ENV = "MODELYARD_TEST_REMOTE_KEY"
KEY = "sk-remote-7f3a9c-never-shown"
REFUSED = "http://127.0.0.1:1"  # nothing listens on port 1


@dataclass
class Hosted:
    """What reached the fake provider, and how it answers (`mode`): "ok", "status:N"
    (with Retry-After: 7 on a 429, and the key it was sent echoed in a 401's message),
    "slow" (answers after `delay`), "broken" (a stream whose connection dies before its
    first event), "cut" (a stream cut after its first event)."""

    url: str = ""
    mode: str = "ok"
    delay: float = 2.0
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # a "long" stream's reader left
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return len(self.requests)


HOSTED = web.AppKey("hosted", Hosted)


async def _hosted_answer(request: web.Request) -> web.StreamResponse:
    hosted = request.app[HOSTED]
    body = await request.json()
    headers = {k.lower(): v for k, v in request.headers.items()}
    hosted.requests.append((request.path, headers, body))
    if hosted.mode.startswith("status:"):
        status = int(hosted.mode.split(":")[1])
        extra = {"retry-after": "7"} if status == 429 else {}
        said = f"refused with {headers.get('authorization', '')}" if status == 401 else "no"
        error = {"error": {"message": said, "type": "invalid_request_error", "code": "nope"}}
        return web.json_response(error, status=status, headers=extra)
    if hosted.mode == "slow":
        await asyncio.sleep(hosted.delay)  # the scenario: a provider slower than the deadline
    if request.path.endswith("/embeddings"):
        data = [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return web.json_response(
            {"object": "list", "model": body["model"], "data": data, "usage": usage}
        )
    if body.get("stream"):
        return await _stream(request, hosted.mode, body["model"])
    message = {"role": "assistant", "content": f"hosted {body['model']} says hi"}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    answer = {"id": "c9", "object": "chat.completion", "created": 1, "model": body["model"]}
    return web.json_response({**answer, "choices": [choice], "usage": usage})


async def _stream(request: web.Request, mode: str, model: str) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    if mode == "long":  # a long generation: a chunk every 50 ms, until its reader goes away
        request.app[HOSTED].gone.clear()
        try:
            for _ in range(200):
                await response.write(f"data: {json.dumps(_chunk(model, 'more '))}\n\n".encode())
                await asyncio.sleep(0.05)  # the scenario's pace, not a synchronisation
        except ConnectionError:
            request.app[HOSTED].gone.set()
        return response
    if mode == "broken":
        assert request.transport is not None
        request.transport.close()  # the provider's connection dies before its first event
        return response
    for word in ("one ", "two "):
        await response.write(f"data: {json.dumps(_chunk(model, word))}\n\n".encode())
        if mode == "cut":
            assert request.transport is not None
            request.transport.close()  # the provider's connection dies mid-stream
            return response
    end = {"id": "s9", "object": "chat.completion.chunk", "created": 1, "model": model}
    end["choices"] = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    await response.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
    return response


def _chunk(model: str, text: str) -> dict[str, Any]:
    chunk = {"id": "s9", "object": "chat.completion.chunk", "created": 1, "model": model}
    return {**chunk, "choices": [{"index": 0, "delta": {"content": text}}]}


@contextlib.asynccontextmanager
async def running_hosted() -> AsyncIterator[Hosted]:
    hosted = Hosted()
    app = web.Application()
    app[HOSTED] = hosted
    app.router.add_post("/v1/chat/completions", _hosted_answer)
    app.router.add_post("/v1/embeddings", _hosted_answer)
    async with loopback.serving(app) as url:
        hosted.url = url
        yield hosted


@pytest.fixture
async def hosted(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hosted]:
    monkeypatch.setenv(KEY_ENV, KEY)
    async with running_hosted() as found:
        yield found


@pytest.fixture
async def local() -> AsyncIterator[Upstream]:
    async with running_upstream() as seen:
        yield seen


def remote_config(api_base: str, retry: dict[str, Any] | None = None, **hosted: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {
                "retry": retry or {"attempts": 1},
                "cooldown": {"failures": 5, "window": 60, "period": 30},
            },
            "servers": {
                "local": {
                    "model": "m",
                    "served_name": "local-served",
                    "capabilities": ["text", "embedding", "messages"],
                },
                "hosted": {
                    "remote": {
                        "model": "openai/hosted-model",
                        "api_base": f"{api_base}/v1",
                        "api_key_env": KEY_ENV,
                    },
                    "capabilities": ["text", "embedding", "messages"],
                    **hosted,
                },
            },
            "routes": {
                "agent": ["local", "hosted"],  # the default intent's
                "local_first": ["local", "hosted"],
                "remote_first": ["hosted", "local"],
                "hosted_only": ["hosted"],
            },
        }
    )


def chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def tried(response: httpx.Response) -> str:
    return response.headers["x-modelyard-tried"]


# -- answers ------------------------------------------------------------------------------


async def test_a_plain_chat_through_litellm_comes_back_in_openais_shape(
    hosted: Hosted, local: Upstream
) -> None:
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(
            CHAT, json=chat("hosted_only", max_tokens=5), headers={"x-request-id": "req-42"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-modelyard-model"] == "hosted"
    assert tried(response) == "hosted:ok"
    assert response.headers["x-modelyard-attempts"] == "1"
    answer = response.json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "hosted hosted-model says hi"
    assert "provider_specific_fields" not in json.dumps(answer)
    assert "_hidden_params" not in answer
    path, headers, body = hosted.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "hosted-model"
    assert body["max_tokens"] == 5
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["x-request-id"] == "req-42"
    assert not [h for h in headers if h.startswith("x-modelyard-")]
    assert KEY not in json.dumps(dict(response.headers))
    assert local.served == 0  # the supervisor's servers were never touched


async def test_a_streamed_chat_arrives_as_openais_events_then_done(
    hosted: Hosted, local: Upstream
) -> None:
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("hosted_only", stream=True))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert tried(response) == "hosted:ok"
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "one two "
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_embeddings_through_litellm(hosted: Hosted, local: Upstream) -> None:
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post("/v1/embeddings", json={"model": "hosted", "input": "a"})
    assert response.status_code == 200, response.text
    assert response.json()["data"][0]["embedding"] == [0.5, 0.25]
    assert hosted.requests[-1][0] == "/v1/embeddings"
    assert tried(response) == "hosted:ok"


async def test_anthropics_messages_through_litellm_plain_and_streamed(
    hosted: Hosted, local: Upstream
) -> None:
    """LiteLLM turns Messages into a chat completion for an OpenAI-compatible server (not its
    bridge to the Responses API, which such servers seldom have) and the answer back."""
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    body = {
        "model": "hosted_only",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with serving(app) as client:
        answer = await client.post("/v1/messages", json=body)
        streamed = await client.post("/v1/messages", json={**body, "stream": True})
    assert answer.status_code == 200, answer.text
    assert answer.json()["type"] == "message"
    assert answer.json()["content"][0]["text"] == "hosted hosted-model says hi"
    assert [path for path, _, _ in hosted.requests] == ["/v1/chat/completions"] * 2
    assert streamed.status_code == 200, streamed.text
    names = [e.split("\n")[0] for e in streamed.text.split("\n\n") if e]
    assert names[0] == "event: message_start" and names[-1] == "event: message_stop"
    assert "data: [DONE]" not in streamed.text
    assert '"text": "one "' in streamed.text


async def test_models_and_route_show_a_remote_server_ready_without_asking_the_supervisor(
    hosted: Hosted, local: Upstream
) -> None:
    admin = FakeAdmin(local.url)
    app = create_app(remote_config(hosted.url), admin)
    async with serving(app) as client:
        models = await client.get("/v1/models")
        decision = await client.post("/route", json=chat("hosted_only"))
    assert {"id": "hosted", "kind": "server"} in [
        {"id": m["id"], "kind": m["modelyard"]["kind"]} for m in models.json()["data"]
    ]
    waits = decision.json()["waits"]
    assert waits == [
        {
            "server": "hosted",
            "ready": True,
            "seconds": 0.0,
            "reason": "remote: called through LiteLLM",
        }
    ]
    assert "hosted" not in admin.asked


# -- the chain ----------------------------------------------------------------------------


async def test_a_local_server_that_is_down_falls_back_to_the_remote_one(
    hosted: Hosted, local: Upstream
) -> None:
    admin = FakeAdmin(local.url, urls={"local": REFUSED})
    app = create_app(remote_config(hosted.url), admin)
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("local_first"))
    assert response.status_code == 200, response.text
    assert tried(response) == "local:connect,hosted:ok"
    assert response.headers["x-modelyard-model"] == "hosted"
    assert hosted.hits == 1


async def test_a_remote_server_that_is_down_falls_back_to_a_local_one(
    local: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    app = create_app(remote_config(REFUSED), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first"))
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 200, response.text
    assert tried(response) == "hosted:connect,local:ok"
    assert response.headers["x-modelyard-model"] == "local"
    assert response.json()["choices"][0]["message"]["content"] == "hello from local-served"
    assert 'modelyard_attempts_total{outcome="connect",server="hosted"} 1.0' in metrics
    assert 'modelyard_fallbacks_total{from="hosted",reason="connect",to="local"} 1.0' in metrics


async def test_a_5xx_from_the_provider_is_retried_then_falls_back(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "status:500"
    retry = {"attempts": 2, "backoff_initial": 0.01, "backoff_max": 0.01}
    app = create_app(remote_config(hosted.url, retry), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first"))
    assert response.status_code == 200, response.text
    assert tried(response) == "hosted:5xx,hosted:5xx,local:ok"
    assert hosted.hits == 2  # LiteLLM itself never retried


async def test_a_401_is_the_servers_key_not_the_clients_so_the_chain_moves_on(
    hosted: Hosted, local: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    hosted.mode = "status:401"
    retry = {"attempts": 3, "backoff_initial": 0.01, "backoff_max": 0.01}
    app = create_app(remote_config(hosted.url, retry), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first"))
        alone = await client.post(CHAT, json=chat("hosted_only"))
    assert response.status_code == 200, response.text
    assert tried(response) == "hosted:auth,local:ok"
    assert hosted.hits == 2  # one per request: never retried on the same server
    assert alone.status_code == 503
    assert alone.headers["x-modelyard-tried"] == "hosted:auth"
    # the provider echoed the key it was sent: it reaches neither the client nor the log
    assert "refused with Bearer ***" in alone.json()["error"]["message"]
    assert KEY not in alone.text and KEY not in caplog.text


async def test_a_429_keeps_the_providers_retry_after_for_the_backoff_and_the_503(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "status:429"
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("hosted_only"))
    assert response.status_code == 503
    assert response.headers["x-modelyard-tried"] == "hosted:429"
    assert response.headers["retry-after"] == "7"
    assert hosted.hits == 1

    # the retry on the same server waits the provider's Retry-After (within backoff_max)
    hosted.requests.clear()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    retry = {"attempts": 2, "backoff_initial": 0.1, "backoff_max": 30, "jitter": 0}
    cfg = remote_config(hosted.url, retry)
    async with upstream_session(5, 60) as session:
        chain = Chain(cfg, Backends(FakeAdmin(local.url)), session, ProxyMetrics(), sleep=sleep)
        plan = Plan("hosted_only", None, "hosted_only", ("hosted",))
        with pytest.raises(AllCandidatesFailedError) as refused:
            await chain.send(plan, CHAT, JsonBody(chat("hosted_only")), {})
        await chain.remote.aclose()
    assert slept == [7.0]
    assert hosted.hits == 2
    assert refused.value.headers["retry-after"] == "7"


async def test_a_client_error_from_the_provider_is_passed_on_with_its_status(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "status:400"
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first"))
    assert response.status_code == 400
    assert tried(response) == "hosted:client"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "nope"
    assert local.served == 0


async def test_a_provider_slower_than_the_first_byte_deadline_falls_back(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "slow"
    retry = {"attempts": 1, "first_byte_timeout": 0.3}
    app = create_app(remote_config(hosted.url, retry), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first", stream=True))
    assert response.status_code == 200, response.text
    assert tried(response) == "hosted:timeout,local:ok"


async def test_a_stream_broken_before_its_first_event_falls_back(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "broken"
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first", stream=True))
    assert response.status_code == 200, response.text
    assert tried(response) == "hosted:connect,local:ok"
    assert response.headers["x-modelyard-model"] == "local"


async def test_a_stream_cut_after_its_first_event_ends_with_an_error_event(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "cut"
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    async with serving(app) as client:
        response = await client.post(CHAT, json=chat("remote_first", stream=True))
    assert response.status_code == 200
    assert tried(response) == "hosted:ok"
    events = [e for e in response.text.split("\n\n") if e]
    assert json.loads(events[0].removeprefix("data: "))["choices"][0]["delta"]["content"]
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["code"] == "upstream_stream_error"
    assert events[-1] == "data: [DONE]"


async def test_a_client_that_goes_away_closes_litellms_stream(
    hosted: Hosted, local: Upstream
) -> None:
    hosted.mode = "long"
    async with upstream_session(5, 60) as session:
        chain = Chain(
            remote_config(hosted.url), Backends(FakeAdmin(local.url)), session, ProxyMetrics()
        )
        plan = Plan("hosted_only", None, "hosted_only", ("hosted",))
        response = await chain.send(plan, CHAT, JsonBody(chat("hosted_only", stream=True)), {})
        assert isinstance(response, StreamingResponse)
        body = response.body_iterator
        assert b"more" in bytes(await anext(body))  # type: ignore[arg-type]
        await body.aclose()  # type: ignore[attr-defined]  # what Starlette does on a disconnect
        async with asyncio.timeout(5):
            await hosted.gone.wait()
        await chain.remote.aclose()


async def test_an_endpoint_litellm_has_no_call_for_passes_the_remote_server_over(
    hosted: Hosted, local: Upstream
) -> None:
    """count_tokens needs `messages`, which the remote server has; LiteLLM has no call for it."""
    app = create_app(remote_config(hosted.url), FakeAdmin(local.url))
    body = {"model": "hosted_only", "messages": [{"role": "user", "content": "hi"}]}
    async with serving(app) as client:
        response = await client.post("/v1/messages/count_tokens", json=body)
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 503
    assert response.headers["x-modelyard-tried"] == "hosted:unsupported"
    assert "no LiteLLM call for /v1/messages/count_tokens" in response.text
    assert hosted.hits == 0
    assert 'modelyard_attempts_total{outcome="unsupported",server="hosted"} 1.0' in metrics


async def test_an_unset_key_variable_is_a_warning_naming_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    Remote(remote_config(REFUSED))
    assert f"servers.hosted.remote.api_key_env: ${KEY_ENV} is not set" in caplog.text


# -- LiteLLM's import -------------------------------------------------------------------


async def test_local_servers_are_served_while_litellm_is_still_importing(
    hosted: Hosted, local: Upstream
) -> None:
    """The import runs in a worker thread: a local request does not wait for it; a remote one
    does, and counts the wait in x-modelyard-waited."""
    release = threading.Event()

    def slow_import() -> Any:
        release.wait(10)  # stands in for LiteLLM's ~7 s import
        return load_litellm()

    cfg = remote_config(hosted.url)
    async with upstream_session(5, 60) as session:
        remote = Remote(cfg, load=slow_import)
        chain = Chain(cfg, Backends(FakeAdmin(local.url)), session, ProxyMetrics(), remote=remote)
        remote.start()
        body = JsonBody(chat("local_first"))
        answered = await chain.send(
            Plan("local_first", None, "local_first", ("local",)), CHAT, body, {}
        )
        assert answered.headers["x-modelyard-model"] == "local"
        waiting = asyncio.create_task(
            chain.send(Plan("hosted_only", None, "hosted_only", ("hosted",)), CHAT, body, {})
        )
        await asyncio.sleep(0.2)  # the scenario: the import outlasts the request's arrival
        assert not waiting.done() and hosted.hits == 0
        release.set()
        async with asyncio.timeout(30):
            response = await waiting
        assert response.headers["x-modelyard-tried"] == "hosted:ok"
        assert float(response.headers["x-modelyard-waited"]) >= 0.2
        await remote.aclose()


async def test_an_import_that_fails_is_the_servers_start_failure(
    hosted: Hosted, local: Upstream
) -> None:
    def broken() -> Any:
        raise ImportError("No module named 'litellm'")

    cfg = remote_config(hosted.url)
    async with upstream_session(5, 60) as session:
        remote = Remote(cfg, load=broken)
        chain = Chain(cfg, Backends(FakeAdmin(local.url)), session, ProxyMetrics(), remote=remote)
        plan = Plan("remote_first", None, "remote_first", ("hosted", "local"))
        response = await chain.send(plan, CHAT, JsonBody(chat("remote_first")), {})
    assert response.headers["x-modelyard-tried"] == "hosted:start,local:ok"


# -- LiteLLM stays out of a proxy without remote servers ----------------------------------


def test_a_proxy_without_remote_servers_never_imports_litellm() -> None:
    """In a process of its own: another test's import would fool a check in this one."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        import httpx
        from proxy.app import create_app
        from tests.component.test_upstream_hops import (
            FakeAdmin, config, running_upstream, serving,
        )

        async def main():
            async with running_upstream() as upstream:
                app = create_app(config(), FakeAdmin(upstream.url))
                async with serving(app) as client:
                    r = await client.post(
                        "/v1/chat/completions",
                        json={"model": "agent", "messages": [{"role": "user", "content": "hi"}]},
                    )
                    assert r.status_code == 200, r.text
            print("litellm" in sys.modules, any(m.startswith("litellm.") for m in sys.modules))

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-2:] == ["False", "False"]
