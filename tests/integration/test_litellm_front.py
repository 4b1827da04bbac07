"""modelyard behind LiteLLM's proxy (issue 17): the shipped deploy/litellm/config.yaml, set only
through its environment variables, run by the real LiteLLM proxy (1.106.12, from its own venv:
scripts/setup-litellm.sh) in front of the session's real `modelyard up`, called with OpenAI's
SDK as a gateway's users would.

What LiteLLM 1.106.12 does with modelyard's headers, read in its source and locked down here:
the openai provider always reads the upstream's response headers (`with_raw_response`), and
the proxy hands every one of them to its client renamed `llm_provider-<name>`
(litellm_core_utils/core_helpers.py, `process_response_headers`), plain, streamed and on
errors alike; none arrives under its own name. A client's `x-*` headers reach modelyard only
with `forward_client_headers_to_llm_api`, which the shipped config sets.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from openai import OpenAI

from bench.hops import LITELLM_VENV, litellm_binary
from harness.stack import Stack, free_port, wait_for
from modelyard_config import load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "litellm" / "config.yaml"
MASTER_KEY = "sk-modelyard-front-test"
PREFIX = "llm_provider-"  # LiteLLM's name for a header the upstream sent
CODING = "Write a Python function that reverses a linked list"

needs_litellm = pytest.mark.skipif(
    litellm_binary() is None,
    reason=f"no LiteLLM venv at {LITELLM_VENV}: `make setup` (scripts/setup-litellm.sh) builds it",
)


def test_the_config_names_auto_every_intent_and_every_server_of_servers_yaml() -> None:
    """The documented file stays in step with the shipped servers.yaml, each name sent on
    unchanged to the one modelyard the environment names."""
    shipped = load_config(ROOT / "servers.yaml")
    rerankers = {n for n, spec in shipped.servers.items() if "rerank" in spec.capabilities}
    rerankers |= {
        intent
        for intent in shipped.classifier.intents
        if set(shipped.route_servers(shipped.intent_route(intent))) <= rerankers
    }
    entries = yaml.safe_load(CONFIG.read_text())["model_list"]
    names = [entry["model_name"] for entry in entries]
    assert sorted(names) == sorted(["auto", *shipped.classifier.intents, *shipped.servers])
    for entry in entries:
        name = entry["model_name"]
        provider = "hosted_vllm" if name in rerankers else "openai"  # the config says why
        assert entry["litellm_params"] == {
            "model": f"{provider}/{name}",
            "api_base": "os.environ/MODELYARD_BASE_URL",
            "api_key": "os.environ/MODELYARD_API_KEY",
        }


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to LiteLLM's process group (uvicorn and anything it started), SIGKILL after 10 s."""
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def _live(proc: subprocess.Popen[bytes], url: str) -> bool:
    if proc.poll() is not None:
        return True  # exited: the caller says so, with the log
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def litellm(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    binary = litellm_binary()
    assert binary is not None  # the tests using this are marked needs_litellm
    folder = tmp_path_factory.mktemp("litellm")
    port = free_port()
    env = {
        **os.environ,
        "MODELYARD_BASE_URL": f"{stack.proxy_url}/v1",
        "MODELYARD_API_KEY": "unused",  # the test stack has no keys: any non-empty text
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # offline: no fetch of its price map
        "PYTHONPATH": "",  # nothing of this checkout in LiteLLM's imports
    }
    log = folder / "litellm.log"
    command = [str(binary), "--config", str(CONFIG), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _live(proc, f"{url}/health/liveliness"), 180, "LiteLLM's proxy", 0.5)
        assert proc.poll() is None, f"LiteLLM exited ({proc.returncode}):\n{log.read_text()}"
        # timeout: an error must come back as an error, never as a hang
        yield OpenAI(base_url=f"{url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=120)
    finally:
        _stop(proc)


def _modelyards(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if "x-modelyard-" in k}


def _assert_answered_by_the_agent_chain(headers: httpx.Headers, stack: Stack) -> None:
    ours = _modelyards(headers)
    assert not [k for k in ours if not k.startswith(PREFIX)], ours  # never under its own name
    assert (ours[f"{PREFIX}x-modelyard-intent"], ours[f"{PREFIX}x-modelyard-route"]) == (
        "agent",
        "agent",
    )
    model = ours[f"{PREFIX}x-modelyard-model"]
    assert model in stack.config["routes"]["agent"]
    tried = ours[f"{PREFIX}x-modelyard-tried"].split(",")
    assert tried[-1] == f"{model}:ok"
    assert ours[f"{PREFIX}x-modelyard-attempts"] == str(len(tried))


@needs_litellm
@pytest.mark.parametrize("model", ["auto", "agent"])
def test_a_chat_through_litellm_carries_modelyards_headers(
    litellm: OpenAI, stack: Stack, model: str
) -> None:
    request_id = f"front-{uuid.uuid4().hex}"
    raw = litellm.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": CODING}],
        max_tokens=8,
        extra_headers={"x-request-id": request_id},
    )
    reply = raw.parse()
    assert reply.choices[0].message.content
    _assert_answered_by_the_agent_chain(raw.headers, stack)
    assert raw.headers[f"{PREFIX}x-modelyard-language"] == "en"
    # the client's own x- header reached modelyard (forward_client_headers_to_llm_api) and
    # came back on its answer
    assert raw.headers[f"{PREFIX}x-request-id"] == request_id


@needs_litellm
@pytest.mark.parametrize("model", ["auto", "agent"])
def test_a_streamed_chat_through_litellm_carries_modelyards_headers(
    litellm: OpenAI, stack: Stack, model: str
) -> None:
    with litellm.chat.completions.with_streaming_response.create(
        model=model,
        messages=[{"role": "user", "content": CODING}],
        max_tokens=16,
        stream=True,
        extra_body={"ignore_eos": True},
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        _assert_answered_by_the_agent_chain(response.headers, stack)
        text, finish = [], None
        for chunk in response.parse():
            if chunk.choices:
                text.append(chunk.choices[0].delta.content or "")
                finish = chunk.choices[0].finish_reason or finish
    assert finish == "length"
    assert "".join(text)


@needs_litellm
def test_a_model_litellm_does_not_know_is_its_400(litellm: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        litellm.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert "Invalid model name" in info.value.message
    assert not _modelyards(info.value.response.headers)  # it never reached modelyard


@needs_litellm
@pytest.mark.parametrize("stream", [False, True])
def test_modelyards_400_reaches_the_client_with_its_message(litellm: OpenAI, stream: bool) -> None:
    """A malformed x-modelyard-max-wait is refused by modelyard before any work; through LiteLLM
    the client gets the same status and modelyard's words, streamed or not."""
    request: dict[str, Any] = {
        "model": "agent",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 2,
        "extra_headers": {"x-modelyard-max-wait": "soon"},
    }
    with pytest.raises(openai.BadRequestError) as info:
        litellm.chat.completions.create(**request, stream=stream)
    error = info.value
    assert error.status_code == 400
    assert "x-modelyard-max-wait must be a positive number of seconds" in error.message
    assert isinstance(error.body, dict) and error.body.get("param") == "x-modelyard-max-wait"
    # modelyard's own error headers come along, renamed like a success's
    assert error.response.headers[f"{PREFIX}x-request-id"]
