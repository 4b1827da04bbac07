"""Every API request counted and timed once, as it ends, by the request log middleware
(modelyard_requests_total, modelyard_request_seconds, modelyard_requests_in_flight): labels from
a bounded set whatever paths clients send."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy import metrics as metrics_module
from proxy.metrics import ProxyMetrics, endpoint_of
from proxy.request_log import RequestLog


def answering(route: bytes | None, status: int = 200, gate: asyncio.Event | None = None) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if gate is not None:
            await gate.wait()
        headers = [(b"x-modelyard-route", route)] if route else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


async def call(app: RequestLog, path: str) -> None:
    scope = {"type": "http", "method": "POST", "path": path, "headers": []}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    await app(scope, receive, send)


def count(m: ProxyMetrics, endpoint: str, route: str, status: str) -> float:
    labels = {"endpoint": endpoint, "route": route, "status": status}
    return m.registry.get_sample_value("modelyard_requests_total", labels) or 0.0


def timed(m: ProxyMetrics, endpoint: str, route: str) -> float:
    labels = {"endpoint": endpoint, "route": route}
    return m.registry.get_sample_value("modelyard_request_seconds_count", labels) or 0.0


async def test_an_api_request_is_counted_by_endpoint_route_and_status_and_timed() -> None:
    m = ProxyMetrics()
    await call(RequestLog(answering(b"agent"), metrics=m), "/v1/chat/completions")
    await call(RequestLog(answering(b"agent", 503), metrics=m), "/v1/chat/completions")
    await call(RequestLog(answering(None), metrics=m), "/v1/models")
    assert count(m, "/v1/chat/completions", "agent", "200") == 1
    assert count(m, "/v1/chat/completions", "agent", "503") == 1
    assert count(m, "/v1/models", "none", "200") == 1
    assert timed(m, "/v1/chat/completions", "agent") == 2


async def test_ids_and_unknown_paths_do_not_become_labels() -> None:
    m = ProxyMetrics()
    app = RequestLog(answering(None, 404), metrics=m)
    for n in range(50):
        await call(app, f"/v1/responses/resp_{n}")
        await call(app, f"/v1/typo-{n}")
    assert count(m, "/v1/responses/{id}", "none", "404") == 50
    assert count(m, "other", "none", "404") == 50
    samples = {s.labels["endpoint"] for s in next(iter(m.requests.collect())).samples}
    assert samples == {"/v1/responses/{id}", "other"}


async def test_the_pages_polls_and_probes_are_not_api_requests() -> None:
    m = ProxyMetrics()
    app = RequestLog(answering(None), metrics=m)
    for path in ("/ui/api/state", "/health", "/metrics", "/ui"):
        await call(app, path)
    assert list(next(iter(m.requests.collect())).samples) == []


async def test_in_flight_counts_a_request_until_it_ends() -> None:
    m = ProxyMetrics()
    gate = asyncio.Event()
    pending = asyncio.create_task(
        call(RequestLog(answering(b"agent", gate=gate), metrics=m), "/v1/embeddings")
    )
    async with asyncio.timeout(5):
        while m.registry.get_sample_value("modelyard_requests_in_flight") != 1:
            await asyncio.sleep(0.001)  # a poll under the deadline above
    gate.set()
    await pending
    assert m.registry.get_sample_value("modelyard_requests_in_flight") == 0
    assert count(m, "/v1/embeddings", "agent", "200") == 1


async def test_label_sets_are_bounded_whatever_routes_an_upstream_claims(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Routes are the config's, so few; a bound still holds if a response carried others."""
    monkeypatch.setattr(metrics_module, "_MOST_LABEL_SETS", 10)
    m = ProxyMetrics()
    for n in range(40):
        await call(RequestLog(answering(f"route-{n}".encode()), metrics=m), "/v1/chat/completions")
    routes = {s.labels["route"] for s in next(iter(m.requests.collect())).samples}
    assert len(routes) <= 11 and "other" in routes
    assert sum(count(m, "/v1/chat/completions", r, "200") for r in routes) == 40


def test_endpoint_of() -> None:
    assert endpoint_of("/v1/chat/completions") == "/v1/chat/completions"
    assert endpoint_of("/v2/rerank") == "/v2/rerank"
    assert endpoint_of("/v1/responses/resp_1/cancel") == "/v1/responses/{id}"
    assert endpoint_of("/v1/models/tiny/qwen") == "/v1/models/{id}"
    assert endpoint_of("/v1/nope") == "other"
