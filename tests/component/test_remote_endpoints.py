"""Remote servers (issue 17) beyond chat, embeddings and Messages: the Responses API (plain and
streamed), completions (plain and streamed), speech, a transcription's multipart upload, and
translations, which LiteLLM has no call for, so the remote server is passed over
(`unsupported`).

The provider is harness/fake_vllm.py run as a real process (`--audio` for the audio
endpoints, `--stream-delay 0` so a completion streams, `--echo` so a response says its input
back): it answers each of these in OpenAI's shape, which the in-process provider of
test_remote_servers does not. Its log names each path it was sent, so a test sees which
endpoint LiteLLM called. The rest (the config, the local server, the supervisor's fake
client) is test_remote_servers'.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.fake_vllm import silence_wav
from harness.processes import interrupt
from harness.stack import FAKE_VLLM, answers, free_port, wait_for
from proxy.app import create_app
from tests.component import test_remote_servers
from tests.component.test_remote_servers import KEY, KEY_ENV, remote_config, tried
from tests.component.test_upstream_hops import FakeAdmin, Upstream, serving

# its fixture, by assignment (an import would read as shadowed by each test's argument): the
# local server, which these routes never reach
local = test_remote_servers.local
TOKENS = 3  # chunks in a streamed answer: t0 t1 t2
CAPABILITIES = ["text", "responses", "speech", "transcription"]


@dataclass(frozen=True)
class Provider:
    """A fake_vllm process standing in for a hosted API: its base URL (no /v1) and its log."""

    url: str
    log: Path

    def paths(self) -> list[str]:
        """The paths it was sent, in order (from its request log: `"POST /v1/... HTTP/1.1"`)."""
        lines = self.log.read_text().splitlines()
        return [line.split()[1] for line in lines if line.startswith('"POST ')]


@pytest.fixture
def provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    monkeypatch.setenv(KEY_ENV, KEY)
    port = free_port()
    log = tmp_path / "provider.log"
    argv = [sys.executable, FAKE_VLLM, "--port", str(port), "--audio", "--echo"]
    argv += ["--stream-delay", "0", "--stream-tokens", str(TOKENS)]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: proc.poll() is not None or answers(url + "/health"), 30, "fake_vllm")
        assert proc.poll() is None, log.read_text()
        yield Provider(url, log)
    finally:
        interrupt(proc, grace=5)


def _app(provider: Provider, local: Upstream) -> Any:
    return create_app(remote_config(provider.url, capabilities=CAPABILITIES), FakeAdmin(local.url))


def _answered_by_the_remote_server(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-model"] == "hosted"
    assert tried(response) == "hosted:ok"


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """A named-event stream (the Responses API's) as (event, data) pairs."""
    found = []
    for block in (b for b in text.split("\n\n") if b):
        name, data = block.split("\n", 1)
        found.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return found


# -- the Responses API --------------------------------------------------------------------


async def test_a_response_through_litellm_comes_back_as_a_response_object(
    provider: Provider, local: Upstream
) -> None:
    async with serving(_app(provider, local)) as client:
        response = await client.post(
            "/v1/responses", json={"model": "hosted_only", "input": "say cheese"}
        )
    _answered_by_the_remote_server(response)
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    assert answer["object"] == "response" and answer["status"] == "completed"
    message = answer["output"][0]
    assert message["type"] == "message" and message["role"] == "assistant"
    part = message["content"][0]
    assert part["type"] == "output_text" and part["text"] == "say cheese"
    assert "provider_specific_fields" not in response.text
    assert provider.paths() == ["/v1/responses"]
    assert local.served == 0


async def test_a_streamed_response_is_the_apis_events_in_order_ending_completed(
    provider: Provider, local: Upstream
) -> None:
    async with serving(_app(provider, local)) as client:
        response = await client.post(
            "/v1/responses", json={"model": "hosted_only", "input": "hi", "stream": True}
        )
    _answered_by_the_remote_server(response)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * TOKENS,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert all(data["type"] == name for name, data in events)
    # the provider's own events, numbered as it sent them (LiteLLM's faked stream would be
    # one delta, made once the whole answer was in)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    deltas = "".join(data["delta"] for name, data in events if name.endswith(".delta"))
    assert deltas == "t0 t1 t2 "
    final = events[-1][1]["response"]
    assert final["status"] == "completed"
    assert final["output"][0]["content"][0]["text"] == "t0 t1 t2 "
    assert "[DONE]" not in response.text  # OpenAI's chat ending is not this API's
    assert provider.paths() == ["/v1/responses"]


# -- completions --------------------------------------------------------------------------


async def test_a_completion_through_litellm_comes_back_as_a_text_completion(
    provider: Provider, local: Upstream
) -> None:
    body = {"model": "hosted_only", "prompt": "once upon", "max_tokens": 5}
    async with serving(_app(provider, local)) as client:
        response = await client.post("/v1/completions", json=body)
    _answered_by_the_remote_server(response)
    answer = response.json()
    assert answer["object"] == "text_completion"
    assert answer["choices"][0]["text"] == "ok"
    assert answer["choices"][0]["finish_reason"] == "stop"
    # called as a completion, not turned into a chat
    assert provider.paths() == ["/v1/completions"]
    assert local.served == 0


async def test_a_streamed_completion_arrives_as_text_chunks_then_done(
    provider: Provider, local: Upstream
) -> None:
    body = {"model": "hosted_only", "prompt": "once upon", "stream": True}
    async with serving(_app(provider, local)) as client:
        response = await client.post("/v1/completions", json=body)
    _answered_by_the_remote_server(response)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e for e in response.text.split("\n\n") if e]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    # every choice has its text and finish_reason, as OpenAI's SDK reads them: LiteLLM's
    # closing chunk has text None
    choices = [c["choices"][0] for c in chunks]
    assert "".join(choice["text"] for choice in choices) == "t0 t1 t2 "
    assert all("finish_reason" in choice for choice in choices)
    assert choices[-1]["finish_reason"] == "stop"
    assert provider.paths() == ["/v1/completions"]


# -- audio --------------------------------------------------------------------------------


async def test_speech_through_litellm_is_the_providers_audio_typed_by_its_format(
    provider: Provider, local: Upstream
) -> None:
    body = {"model": "hosted_only", "input": "hello", "voice": "alloy", "response_format": "wav"}
    async with serving(_app(provider, local)) as client:
        response = await client.post("/v1/audio/speech", json=body)
    _answered_by_the_remote_server(response)
    assert response.headers["content-type"] == "audio/wav"
    assert response.content == silence_wav()
    assert provider.paths() == ["/v1/audio/speech"]


async def test_a_transcription_upload_reaches_the_provider_and_its_text_comes_back(
    provider: Provider, local: Upstream
) -> None:
    async with serving(_app(provider, local)) as client:
        response = await client.post(
            "/v1/audio/transcriptions",
            data={"model": "hosted_only", "language": "en"},
            files={"file": ("hello.wav", silence_wav(), "audio/wav")},
        )
    _answered_by_the_remote_server(response)
    assert response.json() == {"text": "fake transcript"}
    assert provider.paths() == ["/v1/audio/transcriptions"]
    assert local.served == 0


async def test_a_translation_passes_the_remote_server_over_as_unsupported(
    provider: Provider, local: Upstream
) -> None:
    """LiteLLM has no call for translations: the server is passed over, never called."""
    async with serving(_app(provider, local)) as client:
        response = await client.post(
            "/v1/audio/translations",
            data={"model": "hosted_only"},
            files={"file": ("hello.wav", silence_wav(), "audio/wav")},
        )
        metrics = (await client.get("/metrics")).text
    assert response.status_code == 503
    assert tried(response) == "hosted:unsupported"
    assert "no LiteLLM call for /v1/audio/translations" in response.json()["error"]["message"]
    assert 'modelyard_attempts_total{outcome="unsupported",server="hosted"} 1.0' in metrics
    assert provider.paths() == []
    assert local.served == 0
