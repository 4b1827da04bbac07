"""The speech-to-text sidecar as a real process: real models, real speech, the official SDK.

One server (base + tiny.en) is shared by the module, since loading both costs a few seconds;
the shutdown test starts its own, tiny.en only, so that stopping it cannot break the others.
Speech is synthesised with espeak-ng (no recording ships with any installed package); a
missing espeak-ng fails the module with the install command rather than skipping it.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import openai
import pytest
from openai import OpenAI

from harness.stack import free_port, group_pids, port_is_free, wait_for
from sidecars.stt.samples import SENTENCE, SpeechToolMissing, synthesize

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEY_WORDS = ("weekly", "report", "friday")
FRENCH = "Bonjour, je voudrais un café et un croissant, s'il vous plaît."
STARTUP_S = 60  # both models load in ~3 s here; assembling base the first time adds ~2 s


@dataclass(frozen=True)
class Sidecar:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self) -> OpenAI:
        return OpenAI(base_url=self.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def _healthy(sidecar: Sidecar) -> bool:
    if sidecar.proc.poll() is not None:
        raise AssertionError(f"sidecar exited with {sidecar.proc.returncode}:\n{sidecar.log()}")
    try:
        return httpx.get(sidecar.url + "/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def start_sidecar(tmp: Path, *args: str) -> Sidecar:
    port = free_port()
    log_path = tmp / f"stt-{port}.log"
    env = {**os.environ, "MODELYARD_HOME": str(tmp / "home")}
    argv = [sys.executable, "-m", "sidecars.stt", "--host", "127.0.0.1", "--port", str(port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*argv, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the test can look for children
        )
    sidecar = Sidecar(proc, f"http://127.0.0.1:{port}", log_path)
    wait_for(lambda: _healthy(sidecar), STARTUP_S, "the STT sidecar's /health")
    return sidecar


def stop(sidecar: Sidecar) -> None:
    if sidecar.proc.poll() is None:
        sidecar.proc.kill()
        sidecar.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same English sentence as wav and in the other four upload formats, plus French."""
    tmp = tmp_path_factory.mktemp("speech")
    try:
        wav = synthesize(SENTENCE, tmp / "sentence.wav")
        french = synthesize(FRENCH, tmp / "french.wav", voice="fr")
    except SpeechToolMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    files = {"wav": wav, "french": french}
    for suffix, container, codec in (
        ("mp3", "mp3", "libmp3lame"),
        ("ogg", "ogg", "libopus"),
        ("webm", "webm", "libopus"),
        ("m4a", "ipod", "aac"),
    ):
        files[suffix] = tmp / f"sentence.{suffix}"
        files[suffix].write_bytes(_transcode(wav.read_bytes(), container, codec))
    return files


def _transcode(data: bytes, container: str, codec: str) -> bytes:
    out = io.BytesIO()
    with av.open(io.BytesIO(data), "r") as src, av.open(out, "w", format=container) as dst:
        stream = dst.add_stream(codec, rate=48000 if codec == "libopus" else 22050)
        assert isinstance(stream, av.AudioStream)
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    running = start_sidecar(tmp_path_factory.mktemp("stt"))
    yield running
    stop(running)


def _post(
    sidecar: Sidecar, path: str, files: dict[str, tuple[str, bytes]] | None = None, **fields: str
) -> httpx.Response:
    return httpx.post(sidecar.url + path, files=files, data=fields, timeout=60)


def _assert_openai_error(response: httpx.Response, status: int, param: str | None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    return str(error["message"])


def _has_key_words(text: str) -> None:
    lowered = text.lower()
    missing = [word for word in KEY_WORDS if word not in lowered]
    assert not missing, f"{missing} not in {text!r}"


def test_health_and_models_list_both_packaged_models(sidecar: Sidecar) -> None:
    assert httpx.get(sidecar.url + "/health").json()["models"] == ["base", "tiny.en"]
    ids = [model.id for model in sidecar.client().models.list()]
    assert ids == ["base", "tiny.en"]


def test_openai_sdk_transcribes_english_speech_with_tiny_en(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    with open(speech["wav"], "rb") as f:
        result = sidecar.client().audio.transcriptions.create(model="tiny.en", file=f)
    _has_key_words(result.text)


def test_whisper_1_means_the_multilingual_base_model(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    with open(speech["wav"], "rb") as f:
        result = sidecar.client().audio.transcriptions.create(
            model="whisper-1", file=f, response_format="verbose_json"
        )
    _has_key_words(result.text)
    assert result.language == "en"


def test_text_format_is_the_bare_transcript(sidecar: Sidecar, speech: dict[str, Path]) -> None:
    with open(speech["wav"], "rb") as f:
        text = sidecar.client().audio.transcriptions.create(
            model="tiny.en", file=f, response_format="text"
        )
    assert isinstance(text, str)
    assert text.endswith("\n") and not text.lstrip().startswith("{")
    _has_key_words(text)


def test_srt_and_vtt_carry_numbered_timed_cues(sidecar: Sidecar, speech: dict[str, Path]) -> None:
    upload = {"file": ("sentence.wav", speech["wav"].read_bytes())}
    srt = _post(sidecar, "/v1/audio/transcriptions", upload, model="tiny.en", response_format="srt")
    assert srt.status_code == 200, srt.text
    assert re.match(r"1\n00:00:00,000 --> 00:00:0\d,\d{3}\n\S", srt.text), srt.text
    _has_key_words(srt.text)
    vtt = _post(sidecar, "/v1/audio/transcriptions", upload, model="tiny.en", response_format="vtt")
    assert vtt.status_code == 200, vtt.text
    assert re.match(r"WEBVTT\n\n00:00:00\.000 --> 00:00:0\d\.\d{3}\n\S", vtt.text), vtt.text


def test_verbose_json_has_segments_and_word_timestamps(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    client = sidecar.client()
    with open(speech["wav"], "rb") as f:
        result = client.audio.transcriptions.create(
            model="tiny.en",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    # the SDK's model has no `task` field; it keeps OpenAI's extra keys
    assert result.model_dump()["task"] == "transcribe" and result.language == "en"
    assert 3.0 < result.duration < 7.0
    assert result.segments and result.segments[0].id == 0
    assert result.segments[-1].end <= result.duration + 0.5
    assert result.words is not None
    words = [w.word.lower().strip(".,") for w in result.words]
    assert "friday" in words
    assert all(a.start <= b.start for a, b in zip(result.words, result.words[1:], strict=False))


@pytest.mark.parametrize("suffix", ["mp3", "ogg", "webm", "m4a"])
def test_compressed_formats_transcribe_like_the_wav(
    sidecar: Sidecar, speech: dict[str, Path], suffix: str
) -> None:
    with open(speech[suffix], "rb") as f:
        result = sidecar.client().audio.transcriptions.create(model="tiny.en", file=f)
    _has_key_words(result.text)


def test_non_audio_file_is_a_400_in_openai_shape(sidecar: Sidecar) -> None:
    upload = {"file": ("notes.txt", b"this is plain text, not audio\n" * 20)}
    response = _post(sidecar, "/v1/audio/transcriptions", upload, model="tiny.en")
    message = _assert_openai_error(response, 400, "file")
    assert "notes.txt" in message and "decode" in message
    with pytest.raises(openai.BadRequestError):
        sidecar.client().audio.transcriptions.create(
            model="tiny.en", file=("notes.txt", b"not audio at all")
        )


def test_empty_file_is_a_400(sidecar: Sidecar) -> None:
    response = _post(sidecar, "/v1/audio/transcriptions", {"file": ("empty.wav", b"")})
    assert "empty" in _assert_openai_error(response, 400, "file")


def test_missing_file_field_is_a_400(sidecar: Sidecar) -> None:
    response = _post(sidecar, "/v1/audio/transcriptions", {"other": ("x", b"x")}, model="base")
    assert "file" in _assert_openai_error(response, 400, "file")


def test_unknown_model_is_a_404_naming_the_known_ones(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    """404 model_not_found, as the proxy and the TTS sidecar answer an unknown model."""
    upload = {"file": ("sentence.wav", speech["wav"].read_bytes())}
    response = _post(sidecar, "/v1/audio/transcriptions", upload, model="gpt-4o-transcribe")
    message = _assert_openai_error(response, 404, "model")
    assert response.json()["error"]["code"] == "model_not_found"
    assert all(name in message for name in ("base", "tiny.en", "whisper-1"))


def test_language_the_model_cannot_take_is_a_400_on_language(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    upload = {"file": ("sentence.wav", speech["wav"].read_bytes())}
    unknown = _post(sidecar, "/v1/audio/transcriptions", upload, model="base", language="xx")
    assert "'xx'" in _assert_openai_error(unknown, 400, "language")
    english_only = _post(
        sidecar, "/v1/audio/transcriptions", upload, model="tiny.en", language="fr"
    )
    assert "tiny.en" in _assert_openai_error(english_only, 400, "language")


def test_proxy_language_header_is_a_hint_not_a_demand(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    """The proxy guesses `x-modelyard-language` from text; one tiny.en cannot take is ignored."""
    response = httpx.post(
        sidecar.url + "/v1/audio/transcriptions",
        files={"file": ("sentence.wav", speech["wav"].read_bytes())},
        data={"model": "tiny.en"},
        headers={"x-modelyard-language": "hi"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    _has_key_words(response.json()["text"])


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK marks translations
def test_translation_turns_french_speech_into_english(
    sidecar: Sidecar, speech: dict[str, Path]
) -> None:
    with open(speech["french"], "rb") as f:
        result = sidecar.client().audio.translations.create(model="whisper-1", file=f)
    assert "coffee" in result.text.lower(), result.text


def test_english_only_model_refuses_to_translate(sidecar: Sidecar, speech: dict[str, Path]) -> None:
    upload = {"file": ("french.wav", speech["french"].read_bytes())}
    response = _post(sidecar, "/v1/audio/translations", upload, model="tiny.en")
    message = _assert_openai_error(response, 400, "model")
    assert "English-only" in message and "base" in message


def test_unknown_path_answers_in_openai_shape(sidecar: Sidecar) -> None:
    response = httpx.get(sidecar.url + "/v1/audio/speech")
    assert response.status_code in (404, 405)
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_sigterm_exits_cleanly_and_leaves_no_process(tmp_path: Path) -> None:
    running = start_sidecar(tmp_path, "--model", "tiny.en")
    port = int(running.url.rsplit(":", 1)[1])
    try:
        running.proc.send_signal(signal.SIGTERM)
        returncode = running.proc.wait(timeout=15)
    finally:
        stop(running)
    # uvicorn re-raises the signal once its graceful shutdown is done, so a parent sees
    # "terminated by SIGTERM"; the log line proves the ordered shutdown ran first.
    assert returncode in (0, -signal.SIGTERM), running.log()
    assert "Finished server process" in running.log()
    assert group_pids(running.proc.pid) == []
    assert port_is_free(port)
