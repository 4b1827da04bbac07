"""What a LiteLLM call returned, on the wire the client asked for: pure, objects in, bytes out.

A plain answer is the response object as JSON in the API's own shape: LiteLLM's objects are
pydantic models (chat, completions, embeddings, transcriptions, the Responses API) or a dict
(Anthropic's Messages), and what LiteLLM adds of its own (`provider_specific_fields`; its
`_hidden_params` never leave the object) is dropped. Speech is the audio's bytes, typed by
`response_format` (OpenAI's default: mp3); a transcription asked for as text, srt or vtt is
that text.

A stream is each API's own framing (dialects.py): OpenAI's `data: {chunk}` events then
`data: [DONE]` (a completion chunk's choice keeps its `text` and `finish_reason`); the
Responses API's `event: <type>` events; Anthropic's events, which LiteLLM already yields as
framed bytes and which pass untouched.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse, Response

from modelyard_config.endpoints import COMPLETIONS, MESSAGES, RESPONSES, SPEECH, TRANSCRIPTIONS

# LiteLLM's own fields in an answer, at any depth: not part of any API's shape.
_OWN_FIELDS = frozenset({"provider_specific_fields", "_hidden_params", "_response_ms"})
SPEECH_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
_TEXT_FORMATS = frozenset({"text", "srt", "vtt"})
DONE = b"data: [DONE]\n\n"


def plain(endpoint: str, result: Any, fields: dict[str, Any]) -> Response:
    """The answer to a call that did not stream. `fields`: the call's arguments, for the
    format the client asked for."""
    if endpoint == SPEECH:
        kind = SPEECH_TYPES.get(str(fields.get("response_format") or "mp3"), "audio/mpeg")
        return Response(_audio(result), media_type=kind)
    if endpoint == TRANSCRIPTIONS and fields.get("response_format") in _TEXT_FORMATS:
        return Response(str(getattr(result, "text", "")), media_type="text/plain")
    return JSONResponse(jsonable(result, drop_none=endpoint == TRANSCRIPTIONS))


def frame(endpoint: str, item: Any) -> bytes:
    """One event of a stream, framed as the endpoint's API frames it."""
    if isinstance(item, bytes):
        return item  # Anthropic's events, framed by LiteLLM
    data = jsonable(item, drop_none=True)
    if endpoint == COMPLETIONS:
        _keep_completion_fields(data)
    if endpoint in (RESPONSES, MESSAGES):
        return f"event: {data.get('type', 'message')}\ndata: {json.dumps(data)}\n\n".encode()
    return f"data: {json.dumps(data)}\n\n".encode()


def _keep_completion_fields(chunk: dict[str, Any]) -> None:
    """A completion chunk's choice always has `text` and `finish_reason`, null or not: the
    OpenAI SDK's CompletionChoice requires them, and a streamed chunk is built without
    validation, so a client reading `choice.text` off LiteLLM's closing chunk (`text` None,
    dropped with the nulls) would get an AttributeError. A chat delta's fields are optional."""
    for choice in chunk.get("choices") or []:
        if isinstance(choice, dict):
            choice["text"] = choice.get("text") or ""
            choice.setdefault("finish_reason", None)


def ending(endpoint: str) -> bytes:
    """What follows the last event: OpenAI's [DONE]; the other two APIs end with their event."""
    return b"" if endpoint in (RESPONSES, MESSAGES) else DONE


def jsonable(result: Any, drop_none: bool = False) -> dict[str, Any]:
    """`result` as a JSON object, without LiteLLM's own fields (and without nulls: a stream's
    chunk as the OpenAI wire sends it, a transcription's unset fields)."""
    dump = getattr(result, "model_dump", None)
    # warnings off: LiteLLM's Responses events hold dicts where its own unions expect models
    # (a content part, the usage), which pydantic warns of while dumping them as they are
    data = dump(mode="json", warnings=False) if callable(dump) else result
    cleaned = _clean(data, drop_none)
    if not isinstance(cleaned, dict):
        raise TypeError(f"LiteLLM answered a {type(result).__name__}, not an object")
    return cleaned


def _clean(value: Any, drop_none: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: _clean(v, drop_none)
            for k, v in value.items()
            if k not in _OWN_FIELDS and not (drop_none and v is None)
        }
    if isinstance(value, list):
        return [_clean(v, drop_none) for v in value]
    return value


def _audio(result: Any) -> bytes:
    content = getattr(result, "content", result)
    if not isinstance(content, bytes):
        raise TypeError(f"LiteLLM's speech answer held {type(content).__name__}, not bytes")
    return content
