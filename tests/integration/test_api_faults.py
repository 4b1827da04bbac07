"""The fault suite for each API beyond chat, through the official clients: the Responses API
and embeddings (`openai`), Anthropic's Messages (`anthropic`), with chat alongside as the
reference. A primary that fails before its first byte is fallen back from, and the client gets
its 200 (a stream, for the generation APIs) with `x-modelyard-tried` naming both servers; a
stream whose server is killed after its first event ends with that API's own error event,
which each SDK surfaces in its own way (below). And the Responses API's memory: a follow-up or
a GET for a response whose server has stopped is a 409, for one never seen a 404.

Every server here is harness/fake_vllm.py (harness/faults.py, API_SERVERS): the fallback and
the error event are the proxy's work whatever answers, a fake answers in milliseconds, and it
streams for as long as a kill needs (`--stream-delay 0.2 --stream-tokens 50`), which tiny vLLM
does not on cue; test_faults.py drives the same paths for chat in front of real vLLM.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import anthropic
import httpx
import openai
import pytest

from harness.stack import Stack, pid_alive, wait_for

pytestmark = pytest.mark.integration

PIECES = "".join(f"t{n} " for n in range(10))  # what api-answerer streams (--stream-tokens 10)
SAY = [{"role": "user", "content": "count"}]


def claude(stack: Stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.proxy_url, api_key="unused", max_retries=0)


def fell_back(
    headers: Any, primary: str, fallback: str, streamed: bool = True, reason: str = "5xx"
) -> None:
    """The answer came from `fallback`, after `primary` failed before its first byte."""
    tried = headers["x-modelyard-tried"].split(",")
    assert tried[0] == f"{primary}:{reason}" and tried[-1] == f"{fallback}:ok", tried
    assert {t.split(":")[0] for t in tried} == {primary, fallback}
    assert headers["x-modelyard-model"] == fallback
    assert headers["content-type"].startswith("text/event-stream") == streamed


def kill(stack: Stack, name: str) -> None:
    """SIGKILL `name` mid-stream, and wait until it is gone."""
    pid = stack.server(name)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), timeout=30, what=f"{name} ({pid}) to die")


def unload(stack: Stack, name: str) -> None:
    result = stack.cli("unload", name)
    assert result.returncode == 0, result.stderr


# --- before the first byte: the next server in the route answers ---


def test_chat_whose_primary_answers_500_falls_back_and_streams(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="api-chat", messages=SAY, stream=True
    )
    fell_back(raw.headers, "api-down-chat", "api-answerer")
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse())
    assert text == PIECES


def test_responses_whose_primary_answers_500_falls_back_and_streams(stack: Stack) -> None:
    raw = stack.openai().responses.with_raw_response.create(
        model="api-responses", input="count", stream=True
    )
    fell_back(raw.headers, "api-down-responses", "api-answerer")
    events = list(raw.parse())
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == PIECES


def test_messages_whose_primary_answers_500_falls_back_and_streams(stack: Stack) -> None:
    raw = claude(stack).messages.with_raw_response.create(
        model="api-messages", max_tokens=64, messages=SAY, stream=True
    )
    fell_back(raw.headers, "api-down-messages", "api-answerer")
    events = list(raw.parse())
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    deltas = [e.delta for e in events if e.type == "content_block_delta"]
    assert "".join(d.text for d in deltas if d.type == "text_delta") == PIECES


@pytest.mark.parametrize(
    ("path", "body", "last_event"),
    [
        ("/v1/responses", {"input": "count"}, "response.completed"),
        ("/v1/messages", {"max_tokens": 64, "messages": SAY}, "message_stop"),
    ],
    ids=["responses", "messages"],
)
def test_a_stream_whose_primary_dies_at_start_falls_back(
    stack: Stack, path: str, body: dict[str, Any], last_event: str
) -> None:
    sent = {**body, "model": "api-crash", "stream": True}
    with httpx.stream("POST", stack.proxy_url + path, json=sent, timeout=120) as response:
        text = response.read().decode()
    assert response.status_code == 200, text
    fell_back(response.headers, "api-crasher", "api-answerer", reason="start")
    events = [line[len("event: ") :] for line in text.splitlines() if line.startswith("event: ")]
    assert events[-1] == last_event, events


def test_embeddings_whose_primary_answers_500_fall_back(stack: Stack) -> None:
    raw = stack.openai().embeddings.with_raw_response.create(
        model="api-embed", input=["one", "two"], encoding_format="float"
    )
    fell_back(raw.headers, "api-down-embed", "api-embedder", streamed=False)
    vectors = [d.embedding for d in raw.parse().data]
    assert len(vectors) == 2 and vectors[0] != vectors[1]


# --- after the first byte: the stream ends with its API's error event ---


def test_kill_9_during_a_chat_stream_ends_with_an_openai_error_event(stack: Stack) -> None:
    chunks = iter(
        stack.openai().chat.completions.create(model="api-long-chat", messages=SAY, stream=True)
    )
    assert next(chunks).choices[0].delta.content == "t0 "  # the first byte has reached the client
    kill(stack, "api-long-chat")
    # `data: {"error": ...}` then [DONE]: the SDK raises APIError with the error as its body
    with pytest.raises(openai.APIError) as info:
        for _ in chunks:
            pass
    assert info.value.code == "upstream_stream_error"
    assert "upstream stream broke" in info.value.message
    unload(stack, "api-long-chat")


def test_kill_9_during_a_responses_stream_ends_with_its_error_event(stack: Stack) -> None:
    stream = stack.openai().responses.create(model="api-long-responses", input="count", stream=True)
    events = iter(stream)
    assert next(events).type == "response.created"
    kill(stack, "api-long-responses")
    # `event: error` is one more event to the SDK (a ResponseErrorEvent), not an exception:
    # the iteration ends after it
    rest = list(events)
    error = rest[-1]
    assert error.type == "error", [e.type for e in rest]
    assert error.code == "upstream_stream_error"
    assert "upstream stream broke" in error.message
    assert all(e.type != "response.completed" for e in rest)
    unload(stack, "api-long-responses")


def test_kill_9_during_a_messages_stream_ends_with_anthropics_error_event(stack: Stack) -> None:
    stream = claude(stack).messages.create(
        model="api-long-messages", max_tokens=64, messages=SAY, stream=True
    )
    events = iter(stream)
    assert next(events).type == "message_start"
    kill(stack, "api-long-messages")
    # on `event: error` the SDK raises APIStatusError with the event's data as its body (and
    # the stream's own status, 200)
    with pytest.raises(anthropic.APIStatusError) as info:
        for _ in events:
            pass
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "api_error"
    assert "upstream stream broke" in body["error"]["message"]
    unload(stack, "api-long-messages")


# --- the Responses API's memory of who holds each response ---


def test_a_follow_up_whose_holder_was_unloaded_gets_409_holder_gone(stack: Stack) -> None:
    client = stack.openai()
    first = client.responses.with_raw_response.create(model="api-holder", input="remember me")
    assert first.headers["x-modelyard-model"] == "api-holder"
    held = first.parse().id
    # while it runs, the holder answers about its own: the follow-up, the GET, a cancel
    follow = client.responses.create(model="api-holder", input="and now", previous_response_id=held)
    assert follow.output_text == "and now"
    assert client.responses.retrieve(held).id == held
    queued = client.responses.create(model="api-holder", input="later", background=True)
    assert client.responses.cancel(queued.id).status == "cancelled"
    unload(stack, "api-holder")
    again = {"model": "api-holder", "input": "still there?", "previous_response_id": held}
    for gone in (
        httpx.post(stack.proxy_url + "/v1/responses", json=again, timeout=60),
        httpx.get(f"{stack.proxy_url}/v1/responses/{held}", timeout=60),
    ):
        assert gone.status_code == 409, gone.text
        assert openai_error(gone)["code"] == "response_holder_gone"
    with pytest.raises(openai.ConflictError):
        client.responses.create(model="api-holder", input="again", previous_response_id=held)


def test_a_response_id_never_seen_is_404_not_found(stack: Stack) -> None:
    never = "resp_0123456789abcdef0123456789abcdef"
    for unknown in (
        httpx.get(f"{stack.proxy_url}/v1/responses/{never}", timeout=60),
        httpx.post(f"{stack.proxy_url}/v1/responses/{never}/cancel", timeout=60),
    ):
        assert unknown.status_code == 404, unknown.text
        assert openai_error(unknown)["code"] == "response_not_found"
    with pytest.raises(openai.NotFoundError) as info:
        stack.openai().responses.retrieve(never)
    assert info.value.code == "response_not_found"


def openai_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    return error
