"""OpenAI's chat audio on the wire: the `audio` request options, `message.audio` in an answer,
and how a spoken answer streams. Pure: what a composed spoken answer (compose.py) looks like
to a client that asked for `modalities: ["text", "audio"]`.

Also the name an audio part's format goes on as when the proxy transcribes it: the suffix and
subtype of a multipart file, so a header. `input_audio.format` must name an audio format; an
audio URL's (only a hint, the decoder sniffs the bytes) is kept when it is a plain word.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from modelyard_config.proxy import SpokenAnswers
from proxy.errors import BadRequestError

# OpenAI's chat `audio.format` values, as the speech endpoint names them.
FORMATS = {"wav": "wav", "mp3": "mp3", "flac": "flac", "opus": "opus", "pcm16": "pcm"}
# `input_audio.format`: OpenAI's two, and what Whisper and the STT sidecar decode besides.
INPUT_FORMATS = frozenset({"wav", "mp3", "flac", "ogg", "webm", "m4a", "opus", "pcm16", "aac"})
_URL_FORMAT = re.compile(r"[A-Za-z0-9]{1,8}")
TTL = 3600  # what `message.audio.expires_at` promises; nothing is stored server-side
# Raw bytes per streamed audio delta: a multiple of 3, so each delta's base64 decodes alone.
DELTA_BYTES = 3 * 16 * 1024
# Request fields that ask for audio: a text step of a spoken answer goes without them.
AUDIO_FIELDS = ("modalities", "audio", "stream", "stream_options")


def options(payload: dict[str, Any], rule: SpokenAnswers) -> tuple[str, str]:
    """(voice, speech endpoint format) from the request's `audio`, the rule's defaults else."""
    given = payload.get("audio") or {}
    if not isinstance(given, dict):
        raise BadRequestError("'audio' must be an object with 'voice' and 'format'.", "audio")
    voice = given.get("voice") or rule.voice
    fmt = given.get("format") or rule.format
    if not isinstance(voice, str):
        raise BadRequestError("'audio.voice' must be a string.", param="audio.voice")
    if not isinstance(fmt, str) or (fmt not in FORMATS and fmt not in FORMATS.values()):
        raise BadRequestError(
            f"'audio.format' must be one of {', '.join(FORMATS)}; got {fmt!r}.",
            param="audio.format",
        )
    return voice, FORMATS.get(fmt, fmt)


def input_format(value: object, param: str) -> str:
    """An `input_audio.format` as a file suffix; absent is wav, as the part's default."""
    if value is None:
        return "wav"
    if not isinstance(value, str) or value not in INPUT_FORMATS:
        raise BadRequestError(
            f"'{param}' must be one of {', '.join(sorted(INPUT_FORMATS))}; got {value!r}.",
            param=param,
        )
    return value


def url_format(name: str) -> str:
    """An audio URL's format (its suffix or data: subtype) as a file suffix, wav when it is
    no plain word (a data: URL may carry any bytes there)."""
    return name if _URL_FORMAT.fullmatch(name) else "wav"


def message_audio(data: bytes, transcript: str) -> dict[str, Any]:
    """`message.audio`: the speech in base64, what it says, and until when it is valid."""
    return {
        "id": "audio_" + secrets.token_hex(12),
        "data": base64.b64encode(data).decode(),
        "expires_at": int(time.time()) + TTL,
        "transcript": transcript,
    }


async def events(
    completion: dict[str, Any], audio: dict[str, Any], data: bytes
) -> AsyncIterator[bytes]:
    """A spoken answer as OpenAI streams one: the id and transcript first, then the audio in
    base64 pieces, then `expires_at` with the finish reason, then [DONE]. The speech is made
    whole before the first event (the sidecars synthesise a request at once)."""
    head = {k: completion.get(k) for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"
    finish = completion["choices"][0].get("finish_reason") or "stop"

    def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return f"data: {json.dumps({**head, 'choices': [choice]})}\n\n".encode()

    yield event(
        {"role": "assistant", "audio": {"id": audio["id"], "transcript": audio["transcript"]}}
    )
    for start in range(0, len(data), DELTA_BYTES):
        piece = base64.b64encode(data[start : start + DELTA_BYTES]).decode()
        yield event({"audio": {"id": audio["id"], "data": piece}})
    yield event({"audio": {"id": audio["id"], "expires_at": audio["expires_at"]}}, finish)
    yield b"data: [DONE]\n\n"
