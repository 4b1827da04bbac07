"""The status page's ring of recent requests (proxy/recent.py) and how the request log feeds
it (proxy/request_log.py): bounded, newest first, nothing kept at size 0, every value cut to a
length, a fallback only when the chain moved to another server, and only the APIs clients
call are rows (not the page's own polls, nor /route's decisions, which send nothing). The
middleware is driven with a bare ASGI app: no server, no socket."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from proxy.recent import Entry, RecentRequests, cut, view, worth_keeping
from proxy.request_log import RequestLog


def entry(rid: str, tried: str | None = "a:ok", **changes: Any) -> Entry:
    fields: dict[str, Any] = {
        "at": 1_764_540_000.12345,
        "request_id": rid,
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "ms": 812.44,
        "model": "a",
        "route": "agent",
        "intent": "agent",
        "language": "en",
        "tried": tried,
        "degraded": None,
    }
    fields.update(changes)
    return Entry(**fields)


def test_the_ring_keeps_the_last_n_newest_first() -> None:
    ring = RecentRequests(3)
    for n in range(1, 6):
        ring.add(entry(f"r{n}"))
    assert len(ring) == 3
    assert [row["id"] for row in ring.newest_first()] == ["r5", "r4", "r3"]


def test_a_ring_of_size_zero_keeps_nothing() -> None:
    ring = RecentRequests(0)
    for n in range(3):
        ring.add(entry(f"r{n}"))
    assert len(ring) == 0
    assert ring.newest_first() == []


def test_a_row_is_the_contracts_shape() -> None:
    row = view(entry("9f0c", tried="a:5xx,b:ok", degraded="audio_in->transcript"))
    assert row == {
        "at": 1_764_540_000.123,
        "id": "9f0c",
        "method": "POST",
        "path": "/v1/chat/completions",
        "status": 200,
        "ms": 812.4,
        "model": "a",
        "route": "agent",
        "intent": "agent",
        "language": "en",
        "tried": ["a:5xx", "b:ok"],
        "degraded": "audio_in->transcript",
        "fallback": True,
    }


@pytest.mark.parametrize(
    ("tried", "fallback"),
    [
        (None, False),  # nothing tried (a 400 before the chain)
        ("a:ok", False),
        ("a:5xx,a:ok", False),  # a retry on the same server is not a fallback
        ("a:connect,a:5xx,a:ok", False),
        ("a:start,b:ok", True),
        ("a:5xx,a:5xx,b:ok", True),
        ("crasher:start,tiny-qwen-a:ok", True),
    ],
)
def test_a_fallback_is_more_than_one_server_tried(tried: str | None, fallback: bool) -> None:
    assert view(entry("r", tried=tried))["fallback"] is fallback


def test_values_are_cut_at_512_characters() -> None:
    assert cut(None) is None
    assert cut("x" * 512) == "x" * 512
    long = cut("x" * 5000)
    assert long is not None and len(long) == 513 and long == "x" * 512 + "…"


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        ("/v1/chat/completions", True),
        ("/v1/x", True),
        ("/v2/x", True),
        ("/v2/rerank", True),
        ("/route", False),  # a decision that sent nothing anywhere
        ("/ui/api/state", False),
        ("/ui/api/servers/a/load", False),
        ("/ui", False),
        ("/health", False),
        ("/metrics", False),
        ("/v1", False),  # not under the API's prefix
        ("/routes", False),
    ],
)
def test_only_the_apis_clients_call_are_rows(path: str, kept: bool) -> None:
    assert worth_keeping(path) is kept


# -- fed by the request log ------------------------------------------------------------------


def answering(headers: list[tuple[bytes, bytes]], status: int = 200) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def call(app: Any, path: str, request_id: bytes | None = None) -> list[Message]:
    headers = [(b"x-request-id", request_id)] if request_id else []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_the_request_log_puts_what_the_response_said_in_the_ring() -> None:
    ring = RecentRequests(5)
    said = [
        (b"content-type", b"application/json"),
        (b"x-modelyard-model", b"b"),
        (b"x-modelyard-route", b"agent"),
        (b"x-modelyard-intent", b"code"),
        (b"x-modelyard-language", b"de"),
        (b"x-modelyard-tried", b"a:5xx,b:ok"),
        (b"x-modelyard-degraded", b"audio_in->transcript"),
    ]
    app = RequestLog(answering(said), recent=ring)
    await call(app, "/v1/chat/completions", b"req-7")
    [row] = ring.newest_first()
    assert row["id"] == "req-7" and row["status"] == 200 and row["method"] == "POST"
    assert (row["model"], row["route"], row["intent"], row["language"]) == (
        "b",
        "agent",
        "code",
        "de",
    )
    assert row["tried"] == ["a:5xx", "b:ok"] and row["fallback"] is True
    assert row["degraded"] == "audio_in->transcript"
    assert row["ms"] >= 0


async def test_the_request_log_cuts_long_values_and_skips_the_pages_own_polls() -> None:
    ring = RecentRequests(5)
    tried = ",".join(f"server-{n}:5xx" for n in range(100)).encode()
    app = RequestLog(answering([(b"x-modelyard-tried", tried)]), recent=ring)
    await call(app, "/ui/api/state")
    await call(app, "/health")
    assert len(ring) == 0
    await call(app, "/v1/" + "p" * 2000)
    [row] = ring.newest_first()
    assert len(row["path"]) == 513 and row["path"].endswith("…")
    assert sum(len(step) for step in row["tried"]) + len(row["tried"]) - 1 == 513


async def test_a_request_log_given_an_empty_ring_keeps_nothing() -> None:
    ring = RecentRequests(0)
    app = RequestLog(answering([]), recent=ring)
    await call(app, "/v1/chat/completions")
    assert ring.newest_first() == []


async def test_the_pages_polls_are_logged_at_debug_and_its_actions_at_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An open page polls every second: at INFO that would be a line a second in `up`'s log."""
    app = RequestLog(answering([]), recent=RecentRequests(5))
    with caplog.at_level(logging.DEBUG, logger="modelyard.proxy"):
        for path in ("/ui/api/state", "/ui/api/servers/a/pin", "/v1/chat/completions"):
            await call(app, path)
    levels = {r.getMessage().split()[1]: r.levelno for r in caplog.records}
    assert levels == {
        "/ui/api/state": logging.DEBUG,
        "/ui/api/servers/a/pin": logging.INFO,
        "/v1/chat/completions": logging.INFO,
    }
