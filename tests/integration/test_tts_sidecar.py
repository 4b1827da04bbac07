"""The TTS sidecar as clients see it: a real `python -m sidecars.tts` on a free port, real
Piper and espeak-ng, the official `openai` SDK. Each test names the behaviour it locks down.

The one fake here is a crashing espeak-ng script (labelled below): a real espeak-ng cannot be
made to crash on cue, and the 500 path must not leak a traceback.
"""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import psutil
import pytest
from starlette.testclient import TestClient

from harness.stack import free_port
from sidecars.tts.app import create_app
from sidecars.tts.catalog import Catalog
from sidecars.tts.engines import espeak

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 60.0
HINDI = "नमस्ते दुनिया, आज मौसम बहुत अच्छा है।"


@dataclass
class Sidecar:
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def _require_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed; install it with `apt-get install -y espeak-ng`")


def _start(log: Path) -> Sidecar:
    _require_espeak()
    port = free_port()
    argv = [sys.executable, "-m", "sidecars.tts", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as sink:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
    sidecar = Sidecar(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sidecar exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{sidecar.url}/health", timeout=1.0).status_code == 200:
                return sidecar
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # poll interval, not synchronisation: the deadline bounds the wait
    process.kill()
    pytest.fail(f"sidecar not healthy within {START_DEADLINE_S}s:\n{log.read_text()}")


def _stop(sidecar: Sidecar) -> None:
    if sidecar.process.poll() is None:
        sidecar.process.terminate()
        try:
            sidecar.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sidecar.process.kill()
            sidecar.process.wait()


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    running = _start(tmp_path_factory.mktemp("tts") / "sidecar.log")
    yield running
    _stop(running)


@pytest.fixture(scope="module")
def client(sidecar: Sidecar) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sidecar.url}/v1", api_key="unused", max_retries=0)


def _speak(
    sidecar: Sidecar, headers: dict[str, str] | None = None, **body: object
) -> httpx.Response:
    payload = {"model": "tts-1", "voice": "alloy", **body}
    return httpx.post(f"{sidecar.url}/v1/audio/speech", json=payload, headers=headers, timeout=60.0)


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        return wav.getnframes() / wav.getframerate()


def _assert_openai_error(response: httpx.Response, status: int, param: str | None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param
    assert "Traceback" not in error["message"]
    message: str = error["message"]
    return message


def test_openai_sdk_english_wav_is_spoken_by_piper(client: openai.OpenAI) -> None:
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello from modelyard", response_format="wav"
    )
    assert speech.response.headers["x-modelyard-tts-engine"] == "piper"
    assert speech.response.headers["content-type"] == "audio/wav"
    assert _wav_seconds(speech.content) > 0.3


def test_devanagari_input_is_spoken_by_espeak_hindi(sidecar: Sidecar) -> None:
    response = _speak(sidecar, input=HINDI, voice="nova", response_format="wav")
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-tts-engine"] == "espeak-ng"
    assert response.headers["x-modelyard-tts-voice"].split("+")[0] == "hi"
    assert response.headers["x-modelyard-tts-language"] == "hi"
    assert _wav_seconds(response.content) > 0.5


@pytest.mark.parametrize(
    ("headers", "body_language", "voice"),
    [
        ({"x-modelyard-language": "mr"}, None, "mr"),  # the proxy's hint decides Devanagari
        ({"x-modelyard-language": "mr"}, "hi", "hi"),  # the body field beats the hint
        ({"x-modelyard-language": "fr"}, None, "hi"),  # an unspoken hint falls back to script
    ],
)
def test_language_cues_in_order_field_hint_script(
    sidecar: Sidecar, headers: dict[str, str], body_language: str | None, voice: str
) -> None:
    extra = {} if body_language is None else {"language": body_language}
    response = _speak(sidecar, headers, input=HINDI, response_format="pcm", **extra)
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-tts-voice"].split("+")[0] == voice


def test_engine_voice_id_pins_engine_and_language(sidecar: Sidecar) -> None:
    response = _speak(sidecar, input="vanakkam", voice="ta+f2", response_format="pcm")
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-tts-engine"] == "espeak-ng"
    assert response.headers["x-modelyard-tts-language"] == "ta"


def _is_mp3(data: bytes) -> bool:
    frame_sync = len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0
    return data[:3] == b"ID3" or frame_sync


@pytest.mark.parametrize(
    ("response_format", "content_type"),
    [
        ("mp3", "audio/mpeg"),
        ("opus", "audio/ogg"),
        ("flac", "audio/flac"),
        ("wav", "audio/wav"),
        ("pcm", "audio/pcm"),
    ],
)
def test_each_response_format_has_its_magic(
    client: openai.OpenAI, response_format: str, content_type: str
) -> None:
    speech = client.audio.speech.create(
        model="tts-1",
        voice="echo",
        input="Formats check.",
        response_format=response_format,  # type: ignore[arg-type]  # str from parametrize
    )
    data = speech.content
    assert speech.response.headers["content-type"] == content_type
    assert int(speech.response.headers["x-sample-rate"]) > 0
    checks: dict[str, Callable[[bytes], bool]] = {
        "mp3": _is_mp3,
        "opus": lambda d: d[:4] == b"OggS",
        "flac": lambda d: d[:4] == b"fLaC",
        "wav": lambda d: d[:4] == b"RIFF" and d[8:12] == b"WAVE",
        "pcm": lambda d: len(d) > 0 and len(d) % 2 == 0,
    }
    assert checks[response_format](data), data[:16]


def test_mp3_default_matches_openai(sidecar: Sidecar) -> None:
    response = _speak(sidecar, input="Default format.")
    assert response.headers["content-type"] == "audio/mpeg"
    assert _is_mp3(response.content)


def test_unsupported_language_names_the_supported_ones(sidecar: Sidecar) -> None:
    message = _assert_openai_error(_speak(sidecar, input="hello", language="xx"), 400, "language")
    assert "hi (Hindi)" in message and "en (English)" in message


def test_openai_sdk_sees_unsupported_language_as_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(
            model="tts-1", voice="alloy", input="hello", extra_body={"language": "xx"}
        )
    assert caught.value.status_code == 400


def test_unsupported_script_asks_for_a_language(sidecar: Sidecar) -> None:
    _assert_openai_error(_speak(sidecar, input="你好世界"), 400, "language")


@pytest.mark.parametrize("response_format", ["aac", "ogg-vorbis"])
def test_unsupported_response_format_is_400(sidecar: Sidecar, response_format: str) -> None:
    response = _speak(sidecar, input="hello", response_format=response_format)
    _assert_openai_error(response, 400, "response_format")


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_input_is_400(sidecar: Sidecar, text: str) -> None:
    _assert_openai_error(_speak(sidecar, input=text), 400, "input")


def test_input_over_4096_chars_is_400(sidecar: Sidecar) -> None:
    _assert_openai_error(_speak(sidecar, input="a" * 4097), 400, "input")


@pytest.mark.parametrize("speed", [0.1, 4.5, "fast"])
def test_bad_speed_is_400(sidecar: Sidecar, speed: object) -> None:
    _assert_openai_error(_speak(sidecar, input="hello", speed=speed), 400, "speed")


def test_unknown_model_is_404_and_missing_engine_says_why(sidecar: Sidecar) -> None:
    _assert_openai_error(_speak(sidecar, input="hello", model="whisper-1"), 404, "model")
    message = _assert_openai_error(_speak(sidecar, input="hello", model="coqui"), 404, "model")
    assert "not installed" in message


@pytest.mark.parametrize(("text", "language"), [("Speed matters here.", "en"), (HINDI, "hi")])
def test_speed_two_is_shorter_than_speed_one(sidecar: Sidecar, text: str, language: str) -> None:
    def seconds(speed: float) -> float:
        response = _speak(sidecar, input=text, speed=speed, response_format="wav")
        assert response.headers["x-modelyard-tts-language"] == language
        return _wav_seconds(response.content)

    normal, fast = seconds(1.0), seconds(2.0)
    assert fast < normal * 0.8, (normal, fast)


def test_models_and_voices_describe_engines(sidecar: Sidecar) -> None:
    models = httpx.get(f"{sidecar.url}/v1/models").json()
    assert {"tts-1", "tts-1-hd", "piper", "espeak-ng"} <= {m["id"] for m in models["data"]}
    voices = httpx.get(f"{sidecar.url}/v1/voices").json()
    by_name = {engine["name"]: engine for engine in voices["engines"]}
    assert by_name["piper"]["languages"] == ["en"]
    expected = {"en", "hi", "mr", "bn", "ta", "te", "kn", "ml", "gu", "pa"}
    assert set(by_name["espeak-ng"]["languages"]) == expected
    assert by_name["coqui"]["available"] is False
    assert by_name["coqui"]["reason"]


def test_unknown_path_is_openai_shaped(sidecar: Sidecar) -> None:
    _assert_openai_error(httpx.get(f"{sidecar.url}/v1/nope"), 404, None)


def test_sigterm_mid_request_finishes_it_and_leaves_no_children(
    tmp_path: Path,
) -> None:
    """A long espeak-ng request is in flight (its child seen) when SIGTERM lands: /health still
    answers meanwhile, the request completes, the sidecar exits 0 and its children are gone."""
    sidecar = _start(tmp_path / "sidecar.log")
    try:
        parent = psutil.Process(sidecar.process.pid)
        long_hindi = (HINDI + " ") * (4000 // (len(HINDI) + 1))
        result: dict[str, httpx.Response] = {}
        request = threading.Thread(
            target=lambda: result.setdefault(
                "speech", _speak(sidecar, input=long_hindi, speed=0.5, response_format="pcm")
            )
        )
        request.start()
        deadline = time.monotonic() + 10
        children: list[psutil.Process] = []
        while not children and time.monotonic() < deadline:
            children = [c for c in parent.children(recursive=True) if "espeak" in c.name()]
            time.sleep(0.002)  # poll interval; the deadline bounds the wait
        assert children, "espeak-ng child never appeared"
        assert httpx.get(f"{sidecar.url}/health", timeout=2.0).status_code == 200
        sidecar.process.send_signal(signal.SIGTERM)
        assert sidecar.process.wait(timeout=15) == 0, sidecar.log.read_text()
        request.join(timeout=15)
        assert result["speech"].status_code == 200
        assert len(result["speech"].content) > 0
        assert not [child for child in children if child.is_running()]
    finally:
        _stop(sidecar)


# A controllable fake, since a real espeak-ng cannot be made to crash on cue: it lists voices
# by asking the real binary, and dies with a message when asked to speak.
CRASHING_ESPEAK = """#!/bin/sh
case "$1" in --voices*) exec espeak-ng "$@" ;; esac
echo "simulated segfault in synthesis" >&2
exit 139
"""


def test_engine_crash_is_500_with_reason_and_no_traceback(tmp_path: Path) -> None:
    _require_espeak()
    fake = tmp_path / "espeak-ng-crashing"
    fake.write_text(CRASHING_ESPEAK)
    fake.chmod(0o755)
    app = create_app(Catalog((espeak.load(str(fake)),)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.post(
            "/v1/audio/speech", json={"model": "tts-1", "voice": "alloy", "input": HINDI}
        )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and error["code"] == "engine_failed"
    assert "simulated segfault" in error["message"]
    assert "Traceback" not in response.text
