"""Classification and routing through the real proxy: `/route`, `modelyard route`, headers on
forwarded requests, capability filtering, and the triage stage in a second real proxy."""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.processes import interrupt
from harness.stack import MODELYARD, Stack, free_port, wait_for

DECISION_KEYS = {
    "intent",
    "confidence",
    "language",
    "modalities",
    "model",
    "candidates",
    "reasons",
    "classify_ms",
}
IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/face.jpg"}}


def decide(url: str, body: dict[str, Any], endpoint: str | None = None) -> httpx.Response:
    params = {"endpoint": endpoint} if endpoint else None
    return httpx.post(url + "/route", json=body, params=params, timeout=30)


def chat(text: str | list[dict[str, Any]], model: str = "auto") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def test_route_returns_the_decision_without_forwarding(stack: Stack) -> None:
    body = chat("इसे ज़ोर से पढ़कर सुनाओ: 'कल दफ़्तर बंद रहेगा'")
    answer = decide(stack.proxy_url, body).json()
    assert set(answer) >= DECISION_KEYS
    assert (answer["intent"], answer["language"], answer["stage"]) == ("tts", "hi", "learned")
    # the tts route's speech server cannot chat: the answer is composed (text, then speech)
    assert answer["candidates"] == [] and answer["skipped"][0]["server"] == "tts-sidecar"
    assert answer["degrade"] == "audio_out->speech"
    assert answer["modalities"] == ["text"]
    assert 0.5 < answer["confidence"] <= 1 and answer["classify_ms"] >= 0
    assert any(r.startswith("learned: tts ") for r in answer["reasons"])


def test_route_for_an_image_names_what_each_server_lacks(stack: Stack) -> None:
    body = chat([{"type": "text", "text": "make her say 'welcome'"}, IMAGE])
    answer = decide(stack.proxy_url, body).json()
    assert answer["intent"] == "avatar" and answer["modalities"] == ["text", "image"]
    assert answer["model"] == "tiny-qwen-vl" and answer["candidates"] == ["tiny-qwen-vl"]
    assert [s["server"] for s in answer["skipped"]] == ["tiny-qwen-b"]
    assert "image" in answer["skipped"][0]["reason"]
    assert answer["degrade"] is None


def test_route_for_a_transcription_uses_its_language_field(stack: Stack) -> None:
    body = {"model": "whisper-1", "language": "ta", "prompt": ""}
    answer = decide(stack.proxy_url, {**body, "model": "auto"}, "/v1/audio/transcriptions").json()
    assert (answer["intent"], answer["stage"], answer["language"]) == ("stt", "endpoint", "ta")
    assert answer["confidence"] == 1.0


def test_route_with_an_explicit_model_does_not_classify(stack: Stack) -> None:
    alias = decide(stack.proxy_url, chat("read this aloud", model="gpt-4o")).json()
    assert (alias["stage"], alias["intent"], alias["route"]) == ("model", "agent", "agent")
    server = decide(stack.proxy_url, chat("read this aloud", model="tiny-qwen-b")).json()
    assert server["candidates"] == ["tiny-qwen-b", "tiny-qwen-a"]  # then its route's fallbacks
    intent = decide(stack.proxy_url, chat("hello", model="video")).json()
    assert (intent["intent"], intent["route"], intent["stage"]) == ("video", "video", "model")


@pytest.mark.parametrize(
    ("endpoint", "body", "param"),
    [
        ("/v1/nothing", chat("hi"), "endpoint"),
        (None, {"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        (None, {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (None, {"messages": []}, "messages"),
    ],
)
def test_route_rejects_bad_input_with_a_400(
    stack: Stack, endpoint: str | None, body: dict[str, Any], param: str
) -> None:
    response = decide(stack.proxy_url, body, endpoint)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == param


def test_malformed_message_is_a_400_before_any_server_starts(stack: Stack) -> None:
    response = httpx.post(
        stack.proxy_url + "/v1/chat/completions",
        json={"model": "auto", "messages": [{"role": "user", "content": [{"text": "no type"}]}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[0]"


def test_image_request_no_server_can_take_is_a_400_naming_why(stack: Stack) -> None:
    # the agent route's servers take text only
    body = chat([{"type": "text", "text": "What is in this picture?"}, IMAGE], model="agent")
    response = httpx.post(stack.proxy_url + "/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_input" and "image" in error["message"]


def test_auto_requests_carry_the_classifiers_headers(stack: Stack) -> None:
    client = stack.openai()
    coding = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "text to speech ke liye python code likh do"}],
        max_tokens=2,
    )
    assert coding.headers["x-modelyard-intent"] == "agent"
    assert coding.headers["x-modelyard-language"] == "hi"
    assert coding.headers["x-modelyard-model"] == "tiny-qwen-a"
    speech = client.chat.completions.with_raw_response.create(
        messages=[{"role": "user", "content": "Read this aloud: 'the library closes at 8'"}],
        model="",
        max_tokens=2,
    )
    assert (speech.headers["x-modelyard-intent"], speech.headers["x-modelyard-route"]) == (
        "tts",
        "tts",
    )


def test_cli_route_prints_the_decision(stack: Stack) -> None:
    args = [MODELYARD, "route", "Describe this photo", "--image", "https://example.com/a.jpg"]
    result = subprocess.run(
        [*args, "--url", stack.proxy_url, "--json"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["intent"], answer["modalities"]) == ("multimodal", ["text", "image"])
    table = subprocess.run(
        [MODELYARD, "route", "ఈ ఫోటోలోని వ్యక్తితో 'స్వాగతం' అని చెప్పించు", "--url", stack.proxy_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert table.returncode == 0, table.stderr
    assert "avatar" in table.stdout and "te" in table.stdout and "candidates" in table.stdout


def test_cli_route_against_no_proxy_is_a_clear_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [MODELYARD, "route", "hi", "--url", url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "cannot reach the proxy" in result.stderr and "Traceback" not in result.stderr


@contextlib.contextmanager
def second_proxy(stack: Stack, tmp: Path, classifier: dict[str, Any]) -> Iterator[str]:
    """`modelyard proxy` with another classifier, sharing the session's supervisor."""
    config = copy.deepcopy(stack.config)
    config["classifier"] = classifier
    port = free_port()
    config["proxy"].update(port=port, supervisor_url=stack.admin_url)
    path = tmp / "proxy.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    log = (tmp / "proxy.log").open("wb")
    proc = subprocess.Popen(
        [MODELYARD, "proxy", "--config", str(path)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, (tmp / "proxy.log").read_text()
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(url + "/v1/models", timeout=1).status_code == 200
        return False

    try:
        wait_for(answers, timeout=60, what="the second proxy")
        yield url
    finally:
        interrupt(proc, 30)
        log.close()


# Text-only "avatar" in tts words too: the learned stage is unsure (under 0.9) among the three
# intents a text-only chat can be, and hands them all to triage.
TIED = "Narrate this as a talking head video: good morning"


def test_triage_names_the_intent_when_the_learned_stage_is_unsure(
    stack: Stack, tmp_path: Path
) -> None:
    with second_proxy(stack, tmp_path, {"triage": "oracle"}) as url:
        answer = decide(url, chat(TIED)).json()
    assert answer["stage"] == "triage" and answer["intent"] == "tts"
    assert any("oracle chose tts" in r for r in answer["reasons"])


def test_triage_gibberish_from_a_real_llm_falls_back_to_the_default(
    stack: Stack, tmp_path: Path
) -> None:
    with second_proxy(stack, tmp_path, {"triage": "tiny-qwen-a", "triage_timeout": 120}) as url:
        answer = decide(url, chat(TIED)).json()
    assert answer["stage"] == "default"
    assert any(r.startswith("triage: tiny-qwen-a answered") for r in answer["reasons"])
    assert answer["intent"] == "agent"  # the configured default, one of the intents possible
