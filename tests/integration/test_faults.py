"""The fault suite: a primary that fails in each way the issue lists, in front of the real
tiny-qwen-a. Every fault before the first byte must be served by the fallback, and the
response must say which path served it; after the first byte, the stream ends with an
OpenAI-shaped error event and [DONE]."""

from __future__ import annotations

import os
import signal

import httpx
import openai
import pytest

from harness.faults import kill_while_loading
from harness.stack import Stack, preload, wait_for
from supervisor.process_launcher import group_members


@pytest.fixture(scope="module", autouse=True)
def _both_tiny_qwens(stack: Stack) -> None:
    """Every fallback here lands on tiny-qwen-a, and the stream killed mid-way is tiny-qwen-b's:
    started side by side, the module waits for one start instead of two."""
    preload(stack, "tiny-qwen-a", "tiny-qwen-b")


def ask(stack: Stack, route: str) -> httpx.Response:
    return httpx.post(
        stack.proxy_url + "/v1/chat/completions",
        json={"model": route, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        timeout=300,
    )


def tried(response: httpx.Response) -> list[str]:
    return response.headers["x-modelyard-tried"].split(",")


def metric(stack: Stack, name: str, **labels: str) -> float:
    text = httpx.get(stack.proxy_url + "/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name}{{{want}}} in the proxy's /metrics")


def test_a_primary_that_crashes_at_start_falls_back_then_cools_down(stack: Stack) -> None:
    first = ask(stack, "fault-crash")
    assert first.status_code == 200
    assert first.headers["x-modelyard-model"] == "tiny-qwen-a"
    assert tried(first) == ["crasher:start", "tiny-qwen-a:ok"]
    assert first.headers["x-modelyard-attempts"] == "2"
    assert metric(stack, "modelyard_fallbacks_total", to="tiny-qwen-a", reason="start") >= 1
    # three failures within the window open the crasher's circuit: it is skipped, not retried
    for _ in range(2):
        assert ask(stack, "fault-crash").status_code == 200
    skipped = ask(stack, "fault-crash")
    assert skipped.status_code == 200 and tried(skipped) == ["crasher:cooldown", "tiny-qwen-a:ok"]


def test_5xx_from_upstream_is_retried_then_falls_back(stack: Stack) -> None:
    response = ask(stack, "fault-5xx")
    assert response.status_code == 200
    assert tried(response) == ["flaky:5xx", "flaky:5xx", "tiny-qwen-a:ok"]
    assert metric(stack, "modelyard_attempts_total", server="flaky", outcome="5xx") >= 2


def test_a_primary_that_never_becomes_healthy_falls_back(stack: Stack) -> None:
    response = ask(stack, "fault-hang")
    assert response.status_code == 200
    assert tried(response) == ["sleeper:start", "tiny-qwen-a:ok"]


def test_kill_9_of_the_primary_while_it_loads_falls_back(stack: Stack) -> None:
    response = kill_while_loading(stack, lambda: ask(stack, "fault-load-kill"))
    assert response.status_code == 200
    assert tried(response) == ["slowstart:start", "tiny-qwen-a:ok"]


def test_when_every_candidate_fails_the_503_names_each_try(stack: Stack) -> None:
    response = ask(stack, "fault-all")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "all_candidates_failed"
    assert "flaky" in error["message"] and "sleeper" in error["message"]
    assert response.headers["x-modelyard-tried"].startswith("flaky:")


def test_kill_9_of_the_primary_during_a_stream_ends_with_an_error_event(stack: Stack) -> None:
    stream = stack.openai().chat.completions.create(
        model="tiny-qwen-b",
        messages=[{"role": "user", "content": "count"}],
        max_tokens=400,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    chunks = iter(stream)
    assert next(chunks).choices is not None  # the first byte has reached the client
    pid = stack.server("tiny-qwen-b")["pid"]
    members = {p.pid for p in group_members(pid)}
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(openai.APIError) as info:
        for _ in chunks:
            pass
    assert "upstream stream broke" in str(info.value)
    # nothing the killed server forked outlives it (its group is its own: start_new_session)
    wait_for(lambda: not group_members(pid), timeout=60, what=f"group {pid} {members} to end")
    assert stack.cli("unload", "tiny-qwen-b").returncode == 0
