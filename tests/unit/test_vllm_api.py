"""Reading vLLM's /metrics: in-flight requests and the success counter, over label sets."""

from __future__ import annotations

from supervisor.engine import Load
from supervisor.vllm_api import parse_load

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
