"""The API surface beside chat, through the proxy's real ASGI app: /health and
/v1/models/{id}; Anthropic's key header and error shape on its paths; the Responses API's ids
remembered with the server process that made them, so that a GET, a cancel or a follow-up
reaches that process or is refused (404, 409) instead of reaching another model; and a stream
that breaks ending with its own API's error event.

Why fakes here: a fake admin stands for the supervisor (each server one process, with a pid
and a start time, restarted or stopped on cue), so that the proxy's logic is tested without
processes; each server's upstream is a real aiohttp server on loopback that answers as vLLM
would (a response id per answer, stored responses it alone can return) or breaks a stream
after its first event on cue, which real vLLM cannot be made to do. The same APIs against
real vLLM run in tests/integration.
"""

from __future__ import annotations

import contextlib
import itertools
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

CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"
KEY = "sk-right"


@dataclass
class Process:
    pid: int
    started_at: float
    state: str = "ready"


@dataclass
class FakeAdmin:
    """Stands in for supervisor.client.AdminClient: each server runs as one process at its
    upstream's URL; `restart` gives it a new pid and start time, `stop` stops it (as an
    eviction would), and `ensure` starts a stopped one afresh."""

    urls: dict[str, str]
    processes: dict[str, Process] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)  # ensure() calls: starts asked for
    pids: itertools.count[int] = field(default_factory=lambda: itertools.count(4242))

    def _info(self, name: str) -> dict[str, Any]:
        process = self.processes.get(name)
        if process is None or process.state == "stopped":
            return {"name": name, "state": "stopped", "pid": None, "started_at": None}
        return {
            "name": name,
            "state": process.state,
            "base_url": self.urls[name],
            "pid": process.pid,
            "started_at": process.started_at,
        }

    def start(self, name: str) -> None:
        pid = next(self.pids)
        self.processes[name] = Process(pid, 1_700_000_000.0 + pid)

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        self.asked.append(name)
        if self._info(name)["state"] == "stopped":
            self.start(name)
        return self._info(name)

    async def server(self, name: str) -> dict[str, Any]:
        return self._info(name)

    def stop(self, name: str) -> None:
        self.processes[name].state = "stopped"


@dataclass
class Upstream:
    """One server's fake vLLM: what reached it, the responses it stores, and whether it breaks
    its streams after their first event."""

    label: str
    url: str = ""
    seen: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    break_streams: bool = False
    mid_event: bool = False  # break inside the second event rather than after the first
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


SEEN = web.AppKey("seen", Upstream)


async def _stream(request: web.Request, events: list[bytes]) -> web.StreamResponse:
    upstream = request.app[SEEN]
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(events[0])
    if upstream.break_streams and upstream.mid_event and len(events) > 1:
        await response.write(events[1][: len(events[1]) // 2])  # half an event, then nothing
    if upstream.break_streams:
        assert request.transport is not None
        request.transport.close()  # the engine died mid-answer: what was written goes first
        return response
    for event in events[1:]:
        await response.write(event)
    return response


def _sse(event: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(event)}\n\n".encode()


async def _create_response(request: web.Request) -> web.StreamResponse:
    upstream = request.app[SEEN]
    body = await request.json()
    upstream.seen.append((request.method, request.path_qs, body))
    response_id = f"resp_{upstream.label}{next(upstream.ids)}"
    upstream.stored.add(response_id)
    answer = {
        "id": response_id,
        "object": "response",
        "model": body["model"],
        "previous_response_id": body.get("previous_response_id"),
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "hi"}]}],
    }
    if not body.get("stream"):
        return web.json_response(answer)
    created = {"type": "response.created", "response": {**answer, "output": []}}
    delta = {"type": "response.output_text.delta", "delta": "hi"}
    done = {"type": "response.completed", "response": answer}
    return await _stream(
        request,
        [
            _sse(created, "response.created"),
            _sse(delta, "response.output_text.delta"),
            _sse(done, "response.completed"),
        ],
    )


async def _held_response(request: web.Request) -> web.Response:
    upstream = request.app[SEEN]
    upstream.seen.append((request.method, request.path_qs, None))
    response_id = request.match_info["response_id"]
    if response_id not in upstream.stored:  # vLLM keeps stored responses in its own memory
        return web.json_response({"error": {"message": "not found"}}, status=404)
    status = "cancelled" if request.path.endswith("/cancel") else "completed"
    return web.json_response({"id": response_id, "status": status, "held_by": upstream.label})


async def _messages(request: web.Request) -> web.StreamResponse:
    upstream = request.app[SEEN]
    body = await request.json()
    upstream.seen.append((request.method, request.path_qs, body))
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"]}
    if not body.get("stream"):
        return web.json_response({**message, "content": [{"type": "text", "text": "hi"}]})
    start = {"type": "message_start", "message": {**message, "content": []}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    return await _stream(
        request,
        [
            _sse(start, "message_start"),
            _sse(delta, "content_block_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ],
    )


async def _chat(request: web.Request) -> web.StreamResponse:
    upstream = request.app[SEEN]
    body = await request.json()
    upstream.seen.append((request.method, request.path_qs, body))
    chunk = {"choices": [{"index": 0, "delta": {"content": "hi"}}]}
    if not body.get("stream"):
        return web.json_response({"id": "c1", "choices": [{"index": 0, "message": {}}]})
    return await _stream(request, [_sse(chunk), _sse(chunk), b"data: [DONE]\n\n"])


@contextlib.asynccontextmanager
async def running(label: str) -> AsyncIterator[Upstream]:
    seen = Upstream(label)
    app = web.Application()
    app[SEEN] = seen
    app.router.add_post(RESPONSES, _create_response)
    app.router.add_get(RESPONSES + "/{response_id}", _held_response)
    app.router.add_post(RESPONSES + "/{response_id}/cancel", _held_response)
    app.router.add_post(MESSAGES, _messages)
    app.router.add_post(CHAT, _chat)
    async with loopback.serving(app) as url:
        seen.url = url
        yield seen


@dataclass
class Stack:
    client: httpx.AsyncClient
    admin: FakeAdmin
    upstreams: dict[str, Upstream]


def config(**proxy: Any) -> Config:
    generating = ["text", "responses", "messages"]
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {"retry": {"attempts": 1}, **proxy},
            "servers": {
                "chat": {"model": "m", "served_name": "chat-served", "capabilities": generating},
                "other": {"model": "m", "served_name": "other-served", "capabilities": generating},
            },
            "routes": {"agent": ["chat"], "second": ["other"]},
            "aliases": {"claude-x": "chat"},
            "classifier": {
                "default_intents": False,
                "default": "agent",
                "intents": {"agent": {"description": "chat"}},
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


@contextlib.asynccontextmanager
async def stack(**proxy: Any) -> AsyncIterator[Stack]:
    async with running("chat") as chat, running("other") as other:
        admin = FakeAdmin({"chat": chat.url, "other": other.url})
        async with serving(create_app(config(**proxy), admin)) as client:
            yield Stack(client, admin, {"chat": chat, "other": other})


@pytest.fixture
async def proxy() -> AsyncIterator[Stack]:
    async with stack() as running_stack:
        yield running_stack


@pytest.fixture
async def keyed() -> AsyncIterator[Stack]:
    async with stack(api_keys=[KEY]) as running_stack:
        yield running_stack


def messages_body(**extra: Any) -> dict[str, Any]:
    return {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], **extra}


def chat_body(**extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hi"}], **extra}


def anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error", body
    assert set(body["error"]) == {"type", "message"} and body["error"]["type"] == kind, body
    message: str = body["error"]["message"]
    return message


def openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


# --- /health and /v1/models/{id} ---------------------------------------------------------


async def test_health_answers_without_a_key_even_when_keys_are_configured(keyed: Stack) -> None:
    health = await keyed.client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (await keyed.client.get("/v1/models")).status_code == 401  # the keys are on
    assert keyed.admin.asked == []  # a balancer's probe starts nothing


@pytest.mark.parametrize(
    ("model", "kind"),
    [("chat", "server"), ("agent", "route"), ("claude-x", "alias"), ("auto", "auto")],
)
async def test_a_model_is_described_by_its_id(proxy: Stack, model: str, kind: str) -> None:
    response = await proxy.client.get(f"/v1/models/{model}")
    assert response.status_code == 200, response.text
    described = response.json()
    assert (described["id"], described["object"], described["owned_by"]) == (
        model,
        "model",
        "modelyard",
    )
    assert described["modelyard"] == {"kind": kind}
    listed = (await proxy.client.get("/v1/models")).json()["data"]
    assert described in listed


async def test_an_unknown_model_id_is_an_openai_shaped_404(proxy: Stack) -> None:
    error = openai_error(await proxy.client.get("/v1/models/gpt-7"), 404)
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert "'gpt-7'" in error["message"]


# --- Anthropic's key header and error shape ----------------------------------------------


async def test_an_x_api_key_is_accepted_as_anthropics_clients_send_it(keyed: Stack) -> None:
    answered = await keyed.client.post(
        MESSAGES, json=messages_body(model="agent"), headers={"x-api-key": KEY}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["model"] == "chat-served"
    listed = await keyed.client.get("/v1/models/chat", headers={"x-api-key": KEY})
    assert listed.status_code == 200


async def test_a_wrong_key_is_refused_in_the_shape_of_the_paths_api(keyed: Stack) -> None:
    wrong = {"x-api-key": "sk-wrong"}
    on_messages = await keyed.client.post(MESSAGES, json=messages_body(), headers=wrong)
    anthropic_error(on_messages, 401, "authentication_error")
    missing = await keyed.client.post(MESSAGES, json=messages_body())
    anthropic_error(missing, 401, "authentication_error")
    on_chat = await keyed.client.post(CHAT, json=chat_body(), headers=wrong)
    assert openai_error(on_chat, 401)["code"] == "invalid_api_key"
    # Cohere's /v2/rerank sits outside /v1/ and needs a key all the same
    rerank = {"model": "auto", "query": "a", "documents": ["a", "b"]}
    on_v2 = await keyed.client.post("/v2/rerank", json=rerank)
    assert openai_error(on_v2, 401)["code"] == "invalid_api_key"
    assert all(not u.seen for u in keyed.upstreams.values())


async def test_a_bad_messages_request_is_refused_in_anthropics_shape(proxy: Stack) -> None:
    no_max_tokens = {"messages": [{"role": "user", "content": "hi"}]}
    message = anthropic_error(
        await proxy.client.post(MESSAGES, json=no_max_tokens), 400, "invalid_request_error"
    )
    assert "max_tokens" in message
    unknown = await proxy.client.post(MESSAGES, json=messages_body(model="gpt-7"))
    anthropic_error(unknown, 404, "not_found_error")
    broken = await proxy.client.post(MESSAGES, content=b"{not json")
    anthropic_error(broken, 400, "invalid_request_error")
    assert all(not u.seen for u in proxy.upstreams.values())


# --- the Responses API: ids and the process that holds them --------------------------------


async def test_a_responses_answers_id_is_remembered_and_fetched_from_its_server(
    proxy: Stack,
) -> None:
    created = await proxy.client.post(RESPONSES, json={"model": "second", "input": "hi"})
    assert created.status_code == 200, created.text
    response_id = created.json()["id"]
    assert created.headers["x-modelyard-model"] == "other"
    fetched = await proxy.client.get(f"{RESPONSES}/{response_id}?include=x")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == {"id": response_id, "status": "completed", "held_by": "other"}
    assert fetched.headers["x-modelyard-model"] == "other"
    cancelled = await proxy.client.post(f"{RESPONSES}/{response_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    other = proxy.upstreams["other"].seen
    assert [(method, path) for method, path, _ in other[1:]] == [
        ("GET", f"{RESPONSES}/{response_id}?include=x"),
        ("POST", f"{RESPONSES}/{response_id}/cancel"),
    ]
    assert not proxy.upstreams["chat"].seen


async def test_a_streamed_responses_id_is_remembered_too(proxy: Stack) -> None:
    body = {"model": "second", "input": "hi", "stream": True}
    async with proxy.client.stream("POST", RESPONSES, json=body) as stream:
        text = (await stream.aread()).decode()
    assert stream.status_code == 200 and "response.completed" in text
    fetched = await proxy.client.get(f"{RESPONSES}/resp_other1")
    assert fetched.status_code == 200 and fetched.json()["held_by"] == "other"


async def test_an_id_this_proxy_never_relayed_is_a_404(proxy: Stack) -> None:
    error = openai_error(await proxy.client.get(f"{RESPONSES}/resp_never"), 404)
    assert error["code"] == "response_not_found" and "resp_never" in error["message"]
    follow_up = {"input": "and?", "previous_response_id": "resp_never"}
    error = openai_error(await proxy.client.post(RESPONSES, json=follow_up), 404)
    assert (error["code"], error["param"]) == ("response_not_found", "previous_response_id")
    malformed = openai_error(await proxy.client.get(f"{RESPONSES}/resp.x"), 400)
    assert malformed["param"] == "response_id"
    assert all(not u.seen for u in proxy.upstreams.values())


@pytest.mark.parametrize("gone", ["restarted", "stopped", "stopping"])
async def test_a_response_whose_process_is_gone_is_a_409(proxy: Stack, gone: str) -> None:
    """vLLM kept the response in the memory of the process that stopped: sending the GET on
    would reach a process that never saw it (or start a fresh one to say 404)."""
    created = await proxy.client.post(RESPONSES, json={"model": "second", "input": "hi"})
    response_id = created.json()["id"]
    if gone == "restarted":
        proxy.admin.start("other")  # a new pid and start time
    elif gone == "stopped":
        proxy.admin.stop("other")
    else:
        proxy.admin.processes["other"].state = "stopping"  # same pid, on its way out
    asked = list(proxy.admin.asked)
    error = openai_error(await proxy.client.get(f"{RESPONSES}/{response_id}"), 409)
    assert error["code"] == "response_holder_gone" and "'other'" in error["message"]
    cancel = openai_error(await proxy.client.post(f"{RESPONSES}/{response_id}/cancel"), 409)
    assert cancel["code"] == "response_holder_gone"
    follow_up = {"input": "and?", "previous_response_id": response_id}
    error = openai_error(await proxy.client.post(RESPONSES, json=follow_up), 409)
    assert (error["code"], error["param"]) == ("response_holder_gone", "previous_response_id")
    assert [method for method, _, _ in proxy.upstreams["other"].seen] == ["POST"]
    assert proxy.admin.asked == asked  # nothing was started to be asked


async def test_an_asleep_holder_still_holds_its_responses(proxy: Stack) -> None:
    created = await proxy.client.post(RESPONSES, json={"model": "second", "input": "hi"})
    proxy.admin.processes["other"].state = "asleep"  # the same process, weights off the GPU
    fetched = await proxy.client.get(f"{RESPONSES}/{created.json()['id']}")
    assert fetched.status_code == 200 and fetched.json()["held_by"] == "other"


async def test_previous_response_id_pins_the_holder_whatever_model_names(proxy: Stack) -> None:
    first = await proxy.client.post(RESPONSES, json={"model": "second", "input": "hi"})
    first_id = first.json()["id"]
    follow_up = {"model": "agent", "input": "and then?", "previous_response_id": first_id}
    second = await proxy.client.post(RESPONSES, json=follow_up)
    assert second.status_code == 200, second.text
    assert second.headers["x-modelyard-model"] == "other"
    assert second.headers["x-modelyard-route"] == "second"
    _, _, sent = proxy.upstreams["other"].seen[-1]
    assert sent is not None
    assert (sent["model"], sent["previous_response_id"]) == ("other-served", first_id)
    assert not proxy.upstreams["chat"].seen
    # the follow-up's own id is remembered with the same holder
    fetched = await proxy.client.get(f"{RESPONSES}/{second.json()['id']}")
    assert fetched.json()["held_by"] == "other"


# --- a stream that breaks after its first event ------------------------------------------


def sse_events(text: str) -> list[dict[str, str]]:
    events = []
    for block in text.split("\n\n"):
        if block.strip():
            # a half event (a stream cut mid-way) may hold a line with no field name
            fields = [line.split(": ", 1) for line in block.split("\n") if ": " in line]
            events.append(dict(fields))
    return events


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (CHAT, chat_body(model="agent", stream=True)),
        (RESPONSES, {"model": "agent", "input": "hi", "stream": True}),
        (MESSAGES, messages_body(model="agent", stream=True)),
    ],
    ids=["chat", "responses", "messages"],
)
@pytest.mark.parametrize("mid_event", [False, True], ids=["between-events", "mid-event"])
async def test_a_broken_stream_ends_with_its_apis_error_event(
    proxy: Stack, path: str, body: dict[str, Any], mid_event: bool
) -> None:
    proxy.upstreams["chat"].break_streams = True
    proxy.upstreams["chat"].mid_event = mid_event  # the ending must still be an event of its own
    async with proxy.client.stream("POST", path, json=body) as stream:
        text = (await stream.aread()).decode()
    assert stream.status_code == 200
    events = sse_events(text)
    assert len(events) >= 2, text  # the first event, then the ending
    if path == CHAT:
        *_, error, done = events
        assert "event" not in error and done == {"data": "[DONE]"}
        assert json.loads(error["data"])["error"]["code"] == "upstream_stream_error"
        return
    *_, error = events
    assert error["event"] == "error", text
    data = json.loads(error["data"])
    if path == RESPONSES:
        assert (data["type"], data["code"]) == ("error", "upstream_stream_error")
        assert "upstream stream broke" in data["message"]
    else:
        assert data["type"] == "error" and data["error"]["type"] == "api_error"
        assert "upstream stream broke" in data["error"]["message"]
    assert "[DONE]" not in text  # OpenAI's ending is not these APIs'
