"""Reading vLLM's /metrics: in-flight requests and the success counter, over label sets; and
the sleep-mode calls on the wire (vLLM's documented order for a wake from level 2)."""

from __future__ import annotations

import json

import httpx
import pytest

from supervisor.engine import EngineCallError, Load
from supervisor.vllm_api import VllmEngine, parse_load

METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="tiny-qwen-a"} 2.0
vllm:num_requests_waiting{engine="0",model_name="tiny-qwen-a"} 1.0
vllm:num_requests_waiting_by_reason{engine="0",reason="capacity"} 9.0
vllm:request_success_total{engine="0",finished_reason="stop",model_name="tiny-qwen-a"} 5.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="tiny-qwen-a"} 7.0
"""


def test_sums_running_and_waiting_and_every_finish_reason() -> None:
    assert parse_load(METRICS) == Load(in_flight=3, served=12)


def test_not_a_vllm_server() -> None:
    assert parse_load("# nothing here\nprocess_cpu_seconds_total 3.0\n") is None


def test_idle_server() -> None:
    assert parse_load("vllm:num_requests_running 0.0\n") == Load(in_flight=0, served=0)


class Wire:
    """Records every request; answers 200, or `status` for paths listed in `failing`."""

    def __init__(self, failing: dict[str, int] | None = None) -> None:
        self.seen: list[tuple[str, str, object]] = []
        self.failing = failing or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        target = request.url.path + (f"?{request.url.query.decode()}" if request.url.query else "")
        self.seen.append((request.method, target, body))
        return httpx.Response(self.failing.get(request.url.path, 200), json={})


def engine(wire: Wire) -> VllmEngine:
    return VllmEngine(httpx.AsyncClient(transport=httpx.MockTransport(wire)))


async def test_sleep_sends_its_level() -> None:
    wire = Wire()
    await engine(wire).sleep("http://s", 2)
    assert wire.seen == [("POST", "/sleep?level=2", None)]


async def test_a_level_one_wake_is_one_call() -> None:
    wire = Wire()
    await engine(wire).wake("http://s", 1)
    assert wire.seen == [("POST", "/wake_up", None)]


async def test_a_level_two_wake_maps_the_weights_reloads_them_then_the_kv_cache() -> None:
    wire = Wire()
    await engine(wire).wake("http://s", 2)
    assert wire.seen == [
        ("POST", "/wake_up?tags=weights", None),
        ("POST", "/collective_rpc", {"method": "reload_weights"}),
        ("POST", "/wake_up?tags=kv_cache", None),
    ]


async def test_a_failed_reload_fails_the_wake_before_the_kv_cache() -> None:
    wire = Wire({"/collective_rpc": 500})
    with pytest.raises(EngineCallError, match="collective_rpc answered 500"):
        await engine(wire).wake("http://s", 2)
    assert [target for _, target, _ in wire.seen] == ["/wake_up?tags=weights", "/collective_rpc"]


async def test_a_server_without_the_dev_routes_is_named_as_such() -> None:
    with pytest.raises(EngineCallError, match="VLLM_SERVER_DEV_MODE=1"):
        await engine(Wire({"/sleep": 404})).sleep("http://s", 1)
