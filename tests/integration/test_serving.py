"""The walking skeleton, end to end: the official openai SDK through the real proxy and
supervisor to a real `vllm serve` of a tiny model that was not running before the request."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest

from harness.stack import Stack, group_pids, port_is_free, wait_for

pytestmark = pytest.mark.integration


def test_first_request_starts_the_server_once_then_unload_leaves_nothing(stack: Stack) -> None:
    if stack.server("tiny-qwen-b")["state"] != "stopped":  # another test may have used it
        assert stack.cli("unload", "tiny-qwen-b").returncode == 0
    starts_before = stack.server("tiny-qwen-b")["starts"]
    client = stack.openai()
    results: list[str] = []

    def ask() -> None:
        raw = client.chat.completions.with_raw_response.create(
            model="tiny-qwen-b", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        results.append(raw.headers["x-modelyard-model"])
        assert raw.parse().choices[0].message.content

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert results == ["tiny-qwen-b"] * 3
    info = stack.server("tiny-qwen-b")
    assert info["state"] == "ready"
    assert info["starts"] == starts_before + 1, "concurrent first requests must share one start"
    pid, port = info["pid"], info["port"]
    assert group_pids(pid), "the server's process group is running"

    unloaded = stack.cli("unload", "tiny-qwen-b")
    assert unloaded.returncode == 0, unloaded.stderr
    assert "stopped" in unloaded.stdout
    assert stack.server("tiny-qwen-b")["state"] == "stopped"
    assert group_pids(pid) == [], "no process of the group may survive unload"
    assert port_is_free(port)


def test_chat_through_the_openai_sdk(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Write a haiku"}], max_tokens=8
    )
    reply = raw.parse()
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-a"
    assert (raw.headers["x-modelyard-intent"], raw.headers["x-modelyard-language"]) == (
        "agent",
        "en",
    )
    assert reply.model == "tiny-qwen-a"
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.completion_tokens > 0


def test_language_header_follows_the_prompt(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="tiny-qwen-a",
        messages=[{"role": "user", "content": "मुझे एक छोटी कहानी लिखो"}],
        max_tokens=2,
    )
    assert raw.headers["x-modelyard-language"] == "hi"
    assert raw.headers["x-modelyard-intent"] == "agent"  # the route that lists the server


def test_streamed_chat_arrives_chunk_by_chunk(stack: Stack) -> None:
    stream = stack.openai().chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "count"}],
        max_tokens=64,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    arrivals: list[float] = []
    text = []
    finish = None
    for chunk in stream:
        arrivals.append(time.monotonic())
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert finish == "length"
    assert len([t for t in text if t]) >= 32
    # Relayed as generated, not buffered: chunks reach the client spread over the generation.
    spread = arrivals[-1] - arrivals[0]
    assert spread > 0 and (arrivals[1] - arrivals[0]) < spread


def test_completions_through_the_openai_sdk(stack: Stack) -> None:
    raw = stack.openai().completions.with_raw_response.create(
        model="agent", prompt="def fib(n):", max_tokens=16, extra_body={"ignore_eos": True}
    )
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-a"
    assert raw.parse().usage.completion_tokens == 16  # type: ignore[union-attr]


def test_models_lists_servers_routes_and_aliases(stack: Stack) -> None:
    ids = {m.id for m in stack.openai().models.list()}
    assert {"auto", "tiny-qwen-a", "tiny-qwen-b", "agent", "gpt-4o-mini"} <= ids


def test_upstream_error_passes_through_with_its_status(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        stack.openai().chat.completions.create(
            model="tiny-qwen-a", messages=[{"role": "user", "content": "hi"}], max_tokens=100000
        )
    assert info.value.status_code == 400
    assert "512" in info.value.message  # vLLM's own message names the context length


def test_unknown_model_is_a_404_in_openai_shape(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        stack.openai().chat.completions.create(
            model="gpt-7", messages=[{"role": "user", "content": "hi"}]
        )
    body = info.value.response.json()
    assert body["error"]["code"] == "model_not_found"
    assert set(body["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    ("content", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'{"model": "auto", "messages": []}', "messages"),
        (b'{"model": 3, "messages": [{"role": "user", "content": "x"}]}', "model"),
    ],
)
def test_malformed_bodies_are_400_in_openai_shape(
    stack: Stack, content: bytes, param: str | None
) -> None:
    response = httpx.post(
        stack.proxy_url + "/v1/chat/completions",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_unknown_path_is_a_404_in_openai_shape(stack: Stack) -> None:
    response = httpx.get(stack.proxy_url + "/v1/nothing-here")
    assert response.status_code == 404
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_server_that_exits_at_once_fails_fast_with_its_log(stack: Stack) -> None:
    began = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        stack.openai().chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "hi"}]
        )
    elapsed = time.monotonic() - began
    assert info.value.status_code == 503
    assert "exited with code 3" in info.value.message
    assert elapsed < 15, f"a crashing server must fail the request in seconds, took {elapsed:.1f}"
    info_ = stack.server("broken")
    assert (info_["state"], info_["exit_code"]) == ("failed", 3)
    assert any("boom: weights not found" in line for line in info_["log_tail"])
    ps = stack.cli("ps")
    assert "broken" in ps.stdout and "failed" in ps.stdout


def test_ps_json_has_the_columns_scripts_need(stack: Stack) -> None:
    stack.cli("load", "tiny-qwen-a")
    wait_for(lambda: stack.server("tiny-qwen-a")["state"] == "ready", 300, "tiny-qwen-a ready")
    import json

    result = stack.cli("ps", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    ready = rows["tiny-qwen-a"]
    assert {"name", "state", "pid", "port", "base_url", "uptime_s", "memory_bytes"} <= set(ready)
    assert ready["pid"] and ready["port"] and ready["memory_bytes"] > 100 * 2**20
