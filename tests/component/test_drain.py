"""The drain middleware (proxy/drain.py) on a small Starlette app whose streams the test feeds
chunk by chunk, called as uvicorn calls it: one task per request. The same drain on a real
`modelyard up` with SIGTERM is tests/integration/test_drain.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message

from proxy.drain import Drain, DrainMiddleware, Phase

END = b""  # fed to a stream: it sends [DONE] and ends


@dataclass
class Feeds:
    streams: list[asyncio.Queue[bytes]] = field(default_factory=list)
    answer: asyncio.Event = field(default_factory=asyncio.Event)
    closed: list[str] = field(default_factory=list)  # what each stream's generator saw


def build(drain: Drain, feeds: Feeds) -> Starlette:
    async def stream(request: Request) -> Response:
        queue = asyncio.Queue[bytes]()
        feeds.streams.append(queue)

        async def body() -> AsyncIterator[bytes]:
            try:
                while chunk := await queue.get():
                    yield chunk
                yield b"data: [DONE]\n\n"
                feeds.closed.append("finished")
            except asyncio.CancelledError:
                feeds.closed.append("cancelled")  # the upstream would be closed here
                raise

        return StreamingResponse(body(), media_type="text/event-stream")

    async def slow(request: Request) -> Response:
        await feeds.answer.wait()
        return JSONResponse({"ok": True})

    routes = [Route("/stream", stream, methods=["POST"]), Route("/slow", slow)]
    return Starlette(routes=routes, middleware=[Middleware(DrainMiddleware, drain=drain)])


@dataclass
class Call:
    """One request, run as uvicorn runs it: in its own task."""

    sent: list[Message]
    task: asyncio.Task[None]

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.sent[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent[1:])

    @property
    def complete(self) -> bool:
        return bool(self.sent) and not self.sent[-1].get("more_body", False)


def call(app: Starlette, method: str, path: str) -> Call:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "server": ("127.0.0.1", 4000),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[Message] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> Message:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays for the whole answer
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    return Call(sent, asyncio.create_task(app(scope, receive, send)))


async def answered(*calls: Call) -> None:
    async with asyncio.timeout(5):
        await asyncio.gather(*(c.task for c in calls))


async def until(predicate: Any, what: str) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0)  # yields to the request tasks; the deadline bounds it
    assert predicate(), what


def chunk(n: int) -> bytes:
    return f"data: {json.dumps({'choices': [{'delta': {'content': str(n)}}]})}\n\n".encode()


def events(body: bytes) -> list[str]:
    return [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]


def assert_draining_refusal(refused: Call) -> None:
    assert refused.status == 503
    assert refused.headers["retry-after"] == "5"
    assert refused.headers["connection"] == "close"
    error = json.loads(refused.body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("server_error", "draining")


@pytest.fixture
def feeds() -> Feeds:
    return Feeds()


async def test_a_request_after_the_drain_began_gets_503_draining_with_retry_after(
    feeds: Feeds,
) -> None:
    drain = Drain(grace=30)
    app = build(drain, feeds)
    drain.begin()
    refused = call(app, "POST", "/stream")
    await answered(refused)
    assert_draining_refusal(refused)
    assert feeds.streams == []  # the app never saw it
    async with asyncio.timeout(1):
        await drain.finish()  # nothing in flight: over at once
    assert drain.phase is Phase.DRAINED


async def test_streams_in_flight_finish_within_the_grace_and_the_drain_waits_for_them(
    feeds: Feeds,
) -> None:
    drain = Drain(grace=30)
    app = build(drain, feeds)
    calls = [call(app, "POST", "/stream") for _ in range(3)]
    await until(lambda: len(feeds.streams) == 3, "three streams open")
    for queue in feeds.streams:
        queue.put_nowait(chunk(0))
    finishing = asyncio.create_task(drain.finish())
    await until(lambda: drain.phase is Phase.DRAINING, "draining")
    assert drain.in_flight == 3 and not finishing.done()

    for queue in feeds.streams:
        queue.put_nowait(chunk(1))
        queue.put_nowait(END)
    async with asyncio.timeout(5):
        await finishing
    assert drain.phase is Phase.DRAINED and drain.in_flight == 0
    await answered(*calls)
    for c in calls:
        assert c.complete and events(c.body)[-1] == "[DONE]"
        assert "error" not in c.body.decode()
    assert feeds.closed == ["finished"] * 3


async def test_at_the_grace_deadline_a_stream_ends_with_the_error_event_and_done(
    feeds: Feeds,
) -> None:
    drain = Drain(grace=0.05)
    app = build(drain, feeds)
    stream = call(app, "POST", "/stream")
    await until(lambda: feeds.streams, "the stream open")
    feeds.streams[0].put_nowait(chunk(0))
    await until(lambda: len(stream.sent) == 2, "the first chunk sent")

    async with asyncio.timeout(5):
        await drain.finish()  # the stream never ends on its own
    await answered(stream)
    assert stream.complete
    data = events(stream.body)
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert (error["type"], error["code"]) == ("server_error", "draining")
    assert feeds.closed == ["cancelled"]  # the upstream side was let go of, not left reading


async def test_a_chunk_cut_mid_event_does_not_swallow_the_error_event(feeds: Feeds) -> None:
    drain = Drain(grace=0.05)
    app = build(drain, feeds)
    stream = call(app, "POST", "/stream")
    await until(lambda: feeds.streams, "the stream open")
    feeds.streams[0].put_nowait(b'data: {"choi')  # an upstream read that stopped mid-event
    await until(lambda: len(stream.sent) == 2, "the partial chunk sent")
    async with asyncio.timeout(5):
        await drain.finish()
    await answered(stream)
    errors = [e for e in events(stream.body) if e.startswith('{"error"')]
    assert json.loads(errors[0])["error"]["code"] == "draining"


async def test_a_request_still_unanswered_at_the_deadline_gets_the_503(feeds: Feeds) -> None:
    drain = Drain(grace=0.05)
    app = build(drain, feeds)
    waiting = call(app, "GET", "/slow")
    await until(lambda: drain.in_flight == 1, "the request in flight")
    async with asyncio.timeout(5):
        await drain.finish()
    await answered(waiting)
    assert_draining_refusal(waiting)


async def test_a_cancellation_that_is_not_the_drains_still_propagates(feeds: Feeds) -> None:
    """uvicorn cancels requests at its own shutdown deadline: that must not be swallowed."""
    drain = Drain(grace=30)
    app = build(drain, feeds)
    waiting = call(app, "GET", "/slow")
    await until(lambda: drain.in_flight == 1, "the request in flight")
    waiting.task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await answered(waiting)
    assert waiting.sent == [] and drain.in_flight == 0


async def test_answered_requests_pass_through_untouched(feeds: Feeds) -> None:
    drain = Drain(grace=30)
    app = build(drain, feeds)
    feeds.answer.set()
    done = call(app, "GET", "/slow")
    await answered(done)
    assert done.status == 200 and json.loads(done.body) == {"ok": True}
    assert drain.in_flight == 0 and drain.phase is Phase.OPEN
