"""Speech through the proxy with the official `openai` SDK: the real STT sidecar
(faster-whisper) and TTS sidecar (Piper, espeak-ng), started by the real supervisor.

Speech in is espeak-ng's (no recording ships offline; sidecars/stt/samples.py says why);
speech out is checked by decoding it and, where it matters, by transcribing it back.
"""

from __future__ import annotations

import base64
import io
import wave
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from harness.stack import Stack, preload
from sidecars.stt.samples import SENTENCE, synthesize

HINDI = "नमस्ते, आज मौसम बहुत अच्छा है। हम शाम को बाज़ार चलेंगे।"


@pytest.fixture(scope="module", autouse=True)
def _speech_servers(stack: Stack) -> None:
    """The tiny vLLMs these tests reach, started side by side: tiny-qwen-a for the spoken
    answers' text, the audio chat model and Whisper. The module then waits for the slowest
    start instead of the sum of three. (The sidecars start in seconds, on first use; with
    their 120 s startup_timeout they are left out of the crowd.)"""
    preload(stack, "tiny-qwen-a", "tiny-qwen-audio", "tiny-whisper")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(SENTENCE, tmp_path_factory.mktemp("speech") / "sentence.wav")


def words(text: str) -> set[str]:
    return {w.strip(".,!?").lower() for w in text.split()}


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnframes() / audio.getframerate()


def rms(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as audio:
        samples = memoryview(audio.readframes(audio.getnframes())).cast("h")
    return (sum(x * x for x in samples) / max(1, len(samples))) ** 0.5


def test_sdk_transcribes_english_speech_through_the_stt_chain(stack: Stack, speech: Path) -> None:
    client = stack.openai()
    with speech.open("rb") as audio:
        raw = client.audio.transcriptions.with_raw_response.create(model="whisper-1", file=audio)
    assert raw.headers["x-modelyard-model"] == "stt-sidecar"
    assert raw.headers["x-modelyard-intent"] == "stt"
    assert {"weekly", "report", "finance", "friday"} <= words(raw.parse().text)


def test_transcription_formats_pass_through(stack: Stack, speech: Path) -> None:
    client = stack.openai()
    with speech.open("rb") as audio:
        srt = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="srt"
        )
    assert "-->" in str(srt) and "report" in str(srt).lower()
    with speech.open("rb") as audio:
        verbose = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="verbose_json", language="en"
        )
    assert verbose.language == "en" and verbose.duration and verbose.duration > 2


def test_speech_round_trip_in_english_is_piper(stack: Stack) -> None:
    client = stack.openai()
    raw = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format="wav"
    )
    assert raw.headers["x-modelyard-model"] == "tts-sidecar"
    assert raw.headers["x-modelyard-tts-engine"] == "piper"
    audio = raw.content
    assert wav_seconds(audio) > 2
    heard = client.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", audio, "audio/wav")
    )
    assert {"weekly", "report", "finance"} <= words(heard.text)


def test_hindi_speech_is_spoken_in_hindi(stack: Stack) -> None:
    client = stack.openai()
    raw = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=HINDI, response_format="wav"
    )
    # the proxy read the script, the sidecar chose its Hindi voice from that hint
    assert raw.headers["x-modelyard-language"] == "hi"
    assert raw.headers["x-modelyard-tts-engine"] == "espeak-ng"
    assert raw.headers["x-modelyard-tts-language"] == "hi"
    audio = raw.content
    assert wav_seconds(audio) > 2 and rms(audio) > 500  # speech, not silence
    # Whisper base is no judge of it: it hears espeak-ng's robotic Hindi as Arabic or
    # Hungarian (tried), so the check is the voice the sidecar reports choosing.
    assert raw.headers["x-modelyard-tts-voice"].startswith("hi")


def test_speech_in_mp3_and_a_bad_format_is_a_400_from_the_sidecar(stack: Stack) -> None:
    client = stack.openai()
    mp3 = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello there.", response_format="mp3"
    )
    data = mp3.read()
    assert data[:3] == b"ID3" or data[0] == 0xFF  # an MP3 frame or tag
    response = httpx.post(
        stack.proxy_url + "/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": "Hello", "response_format": "aiff"},
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "response_format"


@pytest.mark.parametrize(
    ("files", "data", "param"),
    [
        (None, {"model": "whisper-1"}, "file"),  # multipart without a file
        ({"file": ("a.wav", b"RIFF", "audio/wav")}, {"model": "nope"}, "model"),
    ],
)
def test_bad_uploads_get_openai_shaped_400s(
    stack: Stack, files: dict[str, object] | None, data: dict[str, str], param: str
) -> None:
    response = httpx.post(
        stack.proxy_url + "/v1/audio/transcriptions",
        files=files or {"other": ("x.txt", b"x", "text/plain")},
        data=data,
        timeout=60,
    )
    assert response.status_code in (400, 404)
    assert response.json()["error"]["param"] == param


def test_speech_without_input_is_a_400(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        stack.openai().audio.speech.create(model="tts-1", voice="alloy", input=" ")
    assert caught.value.body["param"] == "input"  # type: ignore[index]


def test_chat_asking_for_audio_gets_message_audio(stack: Stack) -> None:
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="auto",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": "Say hello to the team"}],
        max_tokens=8,
    )
    assert raw.headers["x-modelyard-degraded"] == "audio_out->speech"
    assert raw.headers["x-modelyard-spoken-by"] == "tts-sidecar"
    assert raw.headers["x-modelyard-model"] in ("tiny-qwen-a", "tiny-qwen-b")
    message = raw.parse().choices[0].message
    assert message.content is None and message.audio is not None
    assert message.audio.transcript
    assert wav_seconds(base64.b64decode(message.audio.data)) > 0.1


def test_a_streamed_spoken_answer_comes_in_openai_audio_deltas(stack: Stack) -> None:
    stream = stack.openai().chat.completions.create(
        model="auto",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
        messages=[{"role": "user", "content": "Say hello"}],
        max_tokens=8,
        stream=True,
    )
    # as dicts: openai 3.x types `delta.audio` (ChoiceDeltaAudio), the 2.x that LiteLLM's
    # extra pins keeps it as an extra field; the wire shape is what is tested
    deltas = [c.choices[0].delta.model_dump().get("audio") for c in stream]
    assert all(d is not None for d in deltas)
    first, last = deltas[0], deltas[-1]
    assert first["transcript"] and last.get("expires_at") and last["expires_at"] > 0
    assert len({d["id"] for d in deltas}) == 1  # one audio answer
    pcm = b"".join(base64.b64decode(d["data"]) for d in deltas if d.get("data"))
    assert len(pcm) > 22050 * 2 * 0.1 and len(pcm) % 2 == 0  # 16-bit samples, over 0.1 s


def audio_chat(stack: Stack, speech: Path, model: str) -> Any:
    encoded = base64.b64encode(speech.read_bytes()).decode()
    return stack.openai().chat.completions.with_raw_response.create(
        model=model,
        max_tokens=4,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Summarise this voice note:"},
                    {"type": "input_audio", "input_audio": {"data": encoded, "format": "wav"}},
                ],
            }
        ],
    )


def test_chat_with_audio_reaches_the_real_audio_model(stack: Stack, speech: Path) -> None:
    raw = audio_chat(stack, speech, "auto")
    assert raw.headers["x-modelyard-intent"] == "stt"
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-audio"
    assert "x-modelyard-degraded" not in raw.headers
    # ~4.6 s of speech is ~115 audio tokens in the prompt: vLLM's audio path ran
    assert raw.parse().usage.prompt_tokens > 100


def test_chat_with_audio_and_no_audio_llm_answers_the_transcript(
    stack: Stack, speech: Path
) -> None:
    raw = audio_chat(stack, speech, "agent")  # the agent chain's servers take text only
    assert raw.headers["x-modelyard-degraded"] == "audio_in->transcript"
    assert raw.headers["x-modelyard-transcribed-by"] == "stt-sidecar"
    assert raw.headers["x-modelyard-model"] == "echoer"  # the `heard` route, set in conftest
    # the echoing server got the text part and the transcript in place of the audio
    answer = raw.parse().choices[0].message.content or ""
    assert answer.startswith("Summarise this voice note:")
    assert {"weekly", "report", "finance"} <= words(answer)


def test_speech_in_and_speech_out(stack: Stack, speech: Path) -> None:
    encoded = base64.b64encode(speech.read_bytes()).decode()
    raw = stack.openai().chat.completions.with_raw_response.create(
        model="auto",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": encoded, "format": "wav"}}
                ],
            }
        ],
    )
    assert raw.headers["x-modelyard-degraded"] == "audio_in->transcript,audio_out->speech"
    assert raw.headers["x-modelyard-transcribed-by"] == "stt-sidecar"
    assert raw.headers["x-modelyard-spoken-by"] == "tts-sidecar"
    audio = raw.parse().choices[0].message.audio
    assert audio is not None
    # the echoing text server (the `heard` route) repeated the transcript, which was spoken
    assert {"weekly", "report", "finance"} <= words(audio.transcript)
    assert wav_seconds(base64.b64decode(audio.data)) > 2


def test_transcriptions_reach_vllms_own_whisper(stack: Stack, speech: Path) -> None:
    with speech.open("rb") as audio:
        raw = stack.openai().audio.transcriptions.with_raw_response.create(
            model="tiny-whisper", file=audio, response_format="verbose_json", language="en"
        )
    assert raw.headers["x-modelyard-model"] == "tiny-whisper"
    verbose = raw.parse()
    # random weights: the words are gibberish, the duration is the upload's
    assert verbose.duration is not None and 3 < verbose.duration < 7


def test_sidecar_down_falls_back_to_vllm_whisper(stack: Stack, speech: Path) -> None:
    with speech.open("rb") as audio:
        raw = stack.openai().audio.transcriptions.with_raw_response.create(
            model="fault-sidecar-down", file=audio
        )
    assert raw.headers["x-modelyard-model"] == "tiny-whisper"
    assert raw.headers["x-modelyard-tried"].startswith("stt-dead:")
    assert isinstance(raw.parse().text, str)


def test_stt_primary_crashing_falls_back_to_the_sidecar(stack: Stack, speech: Path) -> None:
    with speech.open("rb") as audio:
        raw = stack.openai().audio.transcriptions.with_raw_response.create(
            model="fault-stt", file=audio
        )
    assert raw.headers["x-modelyard-model"] == "stt-sidecar"
    assert raw.headers["x-modelyard-tried"].split(",")[-1] == "stt-sidecar:ok"
    assert raw.headers["x-modelyard-tried"].startswith("stt-crasher:")
    assert "report" in raw.parse().text.lower()


def test_tts_primary_crashing_falls_back_to_the_sidecar(stack: Stack) -> None:
    raw = stack.openai().audio.speech.with_raw_response.create(
        model="fault-tts", voice="alloy", input="Fallback works.", response_format="wav"
    )
    assert raw.headers["x-modelyard-model"] == "tts-sidecar"
    assert raw.headers["x-modelyard-tried"].startswith("tts-crasher:")
    assert wav_seconds(raw.content) > 0.3


def test_sidecar_down_as_well_as_the_primary_is_a_503_naming_both(
    stack: Stack, speech: Path
) -> None:
    with speech.open("rb") as audio, pytest.raises(openai.InternalServerError) as caught:
        stack.openai().audio.transcriptions.create(model="fault-speech-down", file=audio)
    error = caught.value
    assert error.status_code == 503
    body = error.body
    assert isinstance(body, dict) and body["code"] == "all_candidates_failed"
    assert "stt-crasher" in body["message"] and "stt-dead" in body["message"]
    assert "no-such-whisper" in body["message"] or "start" in body["message"]
