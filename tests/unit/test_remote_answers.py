"""A LiteLLM answer on the client's wire (issue 17), from LiteLLM 1.106.12's real objects:
OpenAI's SSE for chat and completion chunks, the Responses API's named events, Anthropic's
events passed as LiteLLM framed them, and plain answers without LiteLLM's own fields."""

from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")

from litellm.types.utils import ModelResponse, ModelResponseStream, TextCompletionResponse  # noqa: E402

from modelyard_config.endpoints import (  # noqa: E402
    CHAT,
    COMPLETIONS,
    MESSAGES,
    RESPONSES,
    SPEECH,
    TRANSCRIPTIONS,
)
from proxy.remote_answers import DONE, ending, frame, plain  # noqa: E402


def event(raw: bytes) -> dict[str, object]:
    assert raw.startswith(b"data: ") and raw.endswith(b"\n\n"), raw
    parsed: dict[str, object] = json.loads(raw[len(b"data: ") : -2])
    return parsed


def test_a_chat_chunk_is_one_openai_data_event_and_the_stream_ends_with_done() -> None:
    chunk = ModelResponseStream(
        id="s1",
        model="gpt",
        choices=[{"index": 0, "delta": {"role": "assistant", "content": "hi"}}],
    )
    found = event(frame(CHAT, chunk))
    assert found["object"] == "chat.completion.chunk" and found["id"] == "s1"
    choice = found["choices"][0]  # type: ignore[index]
    assert choice["delta"] == {"role": "assistant", "content": "hi"}
    assert "provider_specific_fields" not in json.dumps(found)
    assert ending(CHAT) == DONE == b"data: [DONE]\n\n"


def test_a_completion_chunk_is_a_text_completion_event() -> None:
    chunk = TextCompletionResponse(id="t1", model="m", choices=[{"index": 0, "text": "ok"}])
    found = event(frame(COMPLETIONS, chunk))
    assert found["object"] == "text_completion"
    assert found["choices"][0]["text"] == "ok"  # type: ignore[index]
    assert ending(COMPLETIONS) == DONE


def test_a_responses_api_event_is_named_by_its_type_with_no_done() -> None:
    from litellm.types.llms.openai import OutputTextDeltaEvent

    delta = OutputTextDeltaEvent(
        type="response.output_text.delta", item_id="i", output_index=0, content_index=0, delta="hi"
    )
    raw = frame(RESPONSES, delta)
    head, data = raw.decode().split("\n", 1)
    assert head == "event: response.output_text.delta"
    assert json.loads(data.removeprefix("data: "))["delta"] == "hi"
    assert ending(RESPONSES) == b""


def test_anthropics_events_pass_as_litellm_framed_them() -> None:
    raw = b'event: message_stop\ndata: {"type": "message_stop"}\n\n'
    assert frame(MESSAGES, raw) == raw
    assert ending(MESSAGES) == b""


def test_a_plain_chat_is_openais_json_without_litellms_own_fields() -> None:
    answer = ModelResponse(
        id="c1",
        model="gpt",
        choices=[{"index": 0, "message": {"role": "assistant", "content": "yo"}}],
    )
    response = plain(CHAT, answer, {})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = json.loads(bytes(response.body))
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "yo"
    assert "provider_specific_fields" not in json.dumps(body) and "_hidden_params" not in body


def test_a_plain_messages_answer_is_the_dict_litellm_gave() -> None:
    answer = {"id": "m1", "type": "message", "content": [{"type": "text", "text": "hi"}]}
    assert json.loads(bytes(plain(MESSAGES, answer, {}).body)) == answer


def test_speech_is_its_bytes_typed_by_the_format_asked() -> None:
    class Binary:  # LiteLLM's HttpxBinaryResponseContent: the audio in `content`
        content = b"ID3audio"

    assert plain(SPEECH, Binary(), {}).headers["content-type"] == "audio/mpeg"  # OpenAI's default
    wav = plain(SPEECH, Binary(), {"response_format": "wav"})
    assert (bytes(wav.body), wav.headers["content-type"]) == (b"ID3audio", "audio/wav")


def test_a_transcription_is_json_or_the_text_asked_for() -> None:
    from litellm.types.utils import TranscriptionResponse

    answer = TranscriptionResponse(text="hello there")
    assert json.loads(bytes(plain(TRANSCRIPTIONS, answer, {}).body)) == {"text": "hello there"}
    srt = plain(TRANSCRIPTIONS, answer, {"response_format": "srt"})
    assert bytes(srt.body) == b"hello there"
    assert srt.headers["content-type"].startswith("text/plain")
