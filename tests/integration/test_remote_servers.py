"""Remote servers (issue 17) run as a user runs them: `modelyard up` with `servers.<name>.remote`
entries, called with OpenAI's SDK, each remote server reached through LiteLLM over real HTTP.

The upstreams are processes this module starts itself, as a hosted API is started by someone
else (the supervisor never hears of them):
- a real tiny vLLM (harness/tiny_vllm.py) behind an API key: plain and streamed chat, and its
  own 401 for a server configured with the wrong key;
- the benchmark's instant server (bench/instant_upstream.py): an OpenAI-compatible upstream
  that answers at once, and the fallback of the fault routes;
- fake_vllm with `--fail-status 429 --retry-after 7`, `--hang` and `--break-stream`: a
  provider's bad day, which real vLLM does not show on cue (its docstring says more);
- nothing at all, on a closed port: `connect`.
A chain's local members are the supervisor's own: BROKEN (a start that fails), and a
fake_vllm `--echo` as the local fallback of a failed remote primary, because what these tests
lock down is the chain, not the local server's answer (test_serving covers that with vLLM).

One stack for the module; every scenario has servers and a route of its own, and the breaker
never opens (a cooldown after 100 failures), so no test's failures change another's chain.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam
from prometheus_client.parser import text_string_to_metric_families

from harness.faults import BROKEN
from harness.processes import interrupt
from harness.stack import (
    FAKE_VLLM,
    Stack,
    answers,
    fake_server,
    free_port,
    running_stack,
    stack_config,
    wait_for,
)
from harness.tiny_vllm import TinyVllm, serving

ROOT = Path(__file__).resolve().parents[2]
INSTANT = ROOT / "bench" / "instant_upstream.py"
HOSTED = "hosted-qwen"  # the tiny vLLM's served name: what `openai/hosted-qwen` asks it for
VLLM_KEY = "sk-hosted-qwen-5e1d"
# the variables the proxy reads its remote servers' keys from (`api_key_env`)
GOOD, WRONG, ANY = "MODELYARD_TEST_HOSTED_KEY", "MODELYARD_TEST_WRONG_KEY", "MODELYARD_TEST_ANY_KEY"
KEYS = {GOOD: VLLM_KEY, WRONG: "sk-not-the-key-vllm-was-given", ANY: "sk-the-fakes-take-any"}


def _say(text: str) -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


HI = _say("hi")
# vLLM's own field, through LiteLLM: random weights may say EOS at once, and an empty answer
# would prove nothing
WHOLE = {"ignore_eos": True}
REMOTES = (
    "remote-vllm",
    "remote-wrong-key",
    "remote-instant",
    "remote-refused",
    "remote-429",
    "remote-hang",
    "remote-cut",
)


def _remote(model: str, api_base: str, key_env: str = ANY, **spec: Any) -> dict[str, Any]:
    return {"remote": {"model": model, "api_base": api_base, "api_key_env": key_env}, **spec}


@contextlib.contextmanager
def _upstream(argv: list[str], folder: Path, name: str, port: int) -> Iterator[str]:
    """A process serving on `port` until the block ends: its OpenAI base URL."""
    with (folder / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: proc.poll() is not None or answers(url + "/health"), 30, name)
        assert proc.poll() is None, (folder / f"{name}.log").read_text()
        yield url + "/v1"
    finally:
        interrupt(proc, grace=5)


def _fake(folder: Path, name: str, *flags: str) -> contextlib.AbstractContextManager[str]:
    port = free_port()
    return _upstream([sys.executable, FAKE_VLLM, "--port", str(port), *flags], folder, name, port)


@pytest.fixture(scope="module")
def vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyVllm]:
    with serving(tmp_path_factory.mktemp("vllm"), HOSTED, VLLM_KEY) as running:
        yield running


# this module's own stack, in place of the session's: none of that one's servers are needed here
@pytest.fixture(scope="module")
def stack(
    vllm: TinyVllm, tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("remote-stack")
    for name, value in KEYS.items():
        monkeypatch_module.setenv(name, value)  # `modelyard up` inherits them
    with contextlib.ExitStack() as upstreams:
        port = free_port()
        instant = upstreams.enter_context(
            _upstream([sys.executable, str(INSTANT), "--port", str(port)], tmp, "instant", port)
        )
        limited = upstreams.enter_context(
            _fake(tmp, "limited", "--fail-status", "429", "--retry-after", "7")
        )
        silent = upstreams.enter_context(_fake(tmp, "silent", "--hang"))
        cut = upstreams.enter_context(_fake(tmp, "cut", "--break-stream", "--echo"))
        servers = {
            "remote-vllm": _remote(f"openai/{HOSTED}", vllm.api_base, GOOD),
            "remote-wrong-key": _remote(f"openai/{HOSTED}", vllm.api_base, WRONG),
            "remote-instant": _remote("openai/instant", instant),
            # nothing listens there: a free port that no process is given
            "remote-refused": _remote("openai/gone", f"http://127.0.0.1:{free_port()}/v1"),
            "remote-429": _remote("openai/fake", limited),
            "remote-hang": _remote(
                "openai/fake", silent, retry={"first_byte_timeout": 1, "attempts": 1}
            ),
            "remote-cut": _remote("openai/fake", cut),
            "broken": BROKEN,
            "local-echo": fake_server("--echo", gpu_memory_gb=0.1),
        }
        config = stack_config(tmp / "state", extra_servers=servers)
        config["routes"].update(
            {
                "via-vllm": ["remote-vllm"],
                "wrong-key": ["remote-wrong-key", "remote-vllm"],
                "via-instant": ["remote-instant"],
                "local-down": ["broken", "remote-instant"],
                "remote-down": ["remote-refused", "local-echo"],
                "rate-limited": ["remote-429"],
                "silent": ["remote-hang", "remote-instant"],
                "cut-stream": ["remote-cut", "remote-instant"],
            }
        )
        config["proxy"]["cooldown"] = {"failures": 100, "window": 3600, "period": 3600}
        with running_stack(tmp, config, check_exit=True) as running:
            yield running


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _tried(headers: httpx.Headers) -> list[str]:
    return headers["x-modelyard-tried"].split(",")


def _assert_described(headers: httpx.Headers, server: str, tried: list[str]) -> None:
    """The usual headers, as for a local server: who answered, what was tried, the wait."""
    assert headers["x-modelyard-model"] == server
    assert _tried(headers) == tried
    assert headers["x-modelyard-attempts"] == str(len(tried))
    assert float(headers["x-modelyard-waited"]) >= 0


def _streamed(stack: Stack, route: str, **extra: Any) -> tuple[httpx.Headers, str, str | None]:
    """A streamed chat on `route`: the answer's headers, its text and its finish reason."""
    with stack.openai().chat.completions.with_streaming_response.create(
        model=route, messages=HI, stream=True, **extra
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text, finish = [], None
        for chunk in response.parse():
            assert isinstance(chunk, ChatCompletionChunk)
            if chunk.choices:
                text.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
        return response.headers, "".join(text), finish


Counts = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _counts(stack: Stack) -> Counts:
    """The proxy's counters, by sample name and labels."""
    text = httpx.get(stack.proxy_url + "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _count(counts: Counts, name: str, **labels: str) -> float:
    return counts.get((name, tuple(sorted(labels.items()))), 0.0)


# --- answers, from a real vLLM and from the instant server ---


def test_a_remote_server_answers_a_chat_from_a_real_vllm(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="via-vllm", messages=HI, max_tokens=8, extra_body=WHOLE
    )
    reply = raw.parse()
    assert reply.choices[0].message.content
    # the client's fields reached vLLM through LiteLLM: all 8 tokens, none cut short by EOS
    assert (reply.choices[0].finish_reason, reply.usage and reply.usage.completion_tokens) == (
        "length",
        8,
    )
    _assert_described(raw.headers, "remote-vllm", ["remote-vllm:ok"])


def test_a_remote_server_streams_a_chat_from_a_real_vllm(stack: Stack) -> None:
    headers, text, finish = _streamed(stack, "via-vllm", max_tokens=8, extra_body=WHOLE)
    _assert_described(headers, "remote-vllm", ["remote-vllm:ok"])
    assert text
    assert finish == "length"  # all 8 tokens came through, to the end of the stream


def test_a_key_the_provider_refuses_is_auth_and_the_chain_goes_on(stack: Stack) -> None:
    """vLLM's own 401 (a real one: the server holds a key other than vLLM's): not retried on
    that server, not the client's fault (no 401 to the client), the next server answers."""
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="wrong-key", messages=HI, max_tokens=4, extra_body=WHOLE
    )
    assert raw.parse().choices[0].message.content
    _assert_described(raw.headers, "remote-vllm", ["remote-wrong-key:auth", "remote-vllm:ok"])


def test_a_remote_server_answers_from_the_instant_server(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(model="via-instant", messages=HI)
    assert raw.parse().choices[0].message.content == "ok"
    _assert_described(raw.headers, "remote-instant", ["remote-instant:ok"])


def test_a_remote_server_streams_from_the_instant_server(stack: Stack) -> None:
    headers, text, finish = _streamed(stack, "via-instant")
    _assert_described(headers, "remote-instant", ["remote-instant:ok"])
    assert (text, finish) == ("Hello, world", "stop")


def test_the_supervisor_never_hears_of_a_remote_server(stack: Stack) -> None:
    stack.openai().chat.completions.create(model="via-instant", messages=HI)
    ps = stack.cli("ps", "--json")
    assert ps.returncode == 0, ps.stderr
    listed = {server["name"] for server in json.loads(ps.stdout)}
    admin = httpx.get(stack.admin_url + "/servers", headers=stack.admin_headers).json()
    assert "local-echo" in listed  # the listing is whole: local servers are there
    assert not listed & set(REMOTES)
    assert not {s["name"] for s in admin["servers"]} & set(REMOTES)


# --- fallback, both ways ---


def test_a_chain_whose_local_primary_is_down_ends_on_a_remote_server(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(model="local-down", messages=HI)
    assert raw.parse().choices[0].message.content == "ok"
    _assert_described(raw.headers, "remote-instant", ["broken:start", "remote-instant:ok"])


def test_a_chain_whose_remote_primary_is_unreachable_ends_on_a_local_server(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="remote-down", messages=_say("say this back")
    )
    assert raw.parse().choices[0].message.content == "say this back"
    tried = _tried(raw.headers)
    # tried on the remote server as its retry policy allows (connect is retried), then local
    assert tried[-1] == "local-echo:ok"
    assert tried[:-1] == ["remote-refused:connect"] * (len(tried) - 1) and len(tried) > 1
    _assert_described(raw.headers, "local-echo", tried)


# --- a provider's failures, handled as a local server's are ---


def test_a_429_with_retry_after_ends_in_a_503_that_says_when_to_come_back(stack: Stack) -> None:
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        stack.openai().chat.completions.create(model="rate-limited", messages=HI)
    elapsed = time.monotonic() - started
    response = info.value.response
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"  # the provider's, not a guess of modelyard's
    # retried once (the default policy), after at least the Retry-After capped by backoff_max
    assert _tried(response.headers) == ["remote-429:429", "remote-429:429"]
    assert elapsed >= 2.0
    assert "remote-429" in info.value.message


def test_a_remote_server_that_goes_silent_times_out_and_the_next_answers(stack: Stack) -> None:
    started = time.monotonic()
    raw = stack.openai().chat.completions.with_raw_response.create(model="silent", messages=HI)
    assert raw.parse().choices[0].message.content == "ok"
    _assert_described(raw.headers, "remote-instant", ["remote-hang:timeout", "remote-instant:ok"])
    assert time.monotonic() - started >= 1.0  # its first_byte_timeout, waited out


def test_a_stream_broken_before_its_first_byte_falls_back_whole(stack: Stack) -> None:
    headers, text, finish = _streamed(stack, "cut-stream")
    tried = _tried(headers)
    assert tried[-1] == "remote-instant:ok"
    assert tried[:-1] and all(t.startswith("remote-cut:") for t in tried[:-1])
    assert "remote-cut:ok" not in tried
    _assert_described(headers, "remote-instant", tried)
    assert (text, finish) == ("Hello, world", "stop")  # the fallback's stream, all of it


def test_a_plain_chat_on_the_breaking_server_is_answered(stack: Stack) -> None:
    """The counterpart of the test above: only a stream breaks there, so the fallback in it
    is for the broken stream, not for a server that answers nothing."""
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="cut-stream", messages=_say("whole")
    )
    assert raw.parse().choices[0].message.content == "whole"
    _assert_described(raw.headers, "remote-cut", ["remote-cut:ok"])


# --- metrics ---


def test_the_proxy_counts_remote_attempts_and_fallbacks(stack: Stack) -> None:
    before = _counts(stack)
    stack.openai().chat.completions.create(model="wrong-key", messages=HI, max_tokens=2)
    stack.openai().chat.completions.create(model="local-down", messages=HI)
    after = _counts(stack)

    def grew(name: str, **labels: str) -> float:
        return _count(after, name, **labels) - _count(before, name, **labels)

    attempts = "modelyard_attempts_total"
    assert grew(attempts, server="remote-wrong-key", outcome="auth") == 1
    assert grew(attempts, server="remote-vllm", outcome="ok") == 1
    assert grew(attempts, server="remote-instant", outcome="ok") == 1
    moves = "modelyard_fallbacks_total"
    assert grew(moves, **{"from": "remote-wrong-key", "to": "remote-vllm", "reason": "auth"}) == 1
    assert grew(moves, **{"from": "broken", "to": "remote-instant", "reason": "start"}) == 1
