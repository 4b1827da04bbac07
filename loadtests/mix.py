"""The load test's mix: every kind of request, its weight and how its body is built, in one
table (`LOAD`). Weights are relative; a user picks an entry with probability weight / total.

Standard library only: this module is imported by the locustfile inside locust's own venv
(loadtests/locust_venv.py) and by the unit tests inside the project's.

The weights say what a day on the GPU box might look like: mostly text chat (a third of it
streamed), `/route` lookups and RAG calls (embeddings, rerank) around it, and a steady trickle
of the heavier multimodal and speech requests. Generations are short (`MAX_TOKENS`): on the
CPU profile a tiny vLLM decodes a few tokens per step for every request in its batch, and the
run measures the proxy, the routing and the supervisor under a realistic mix, not a model's
throughput.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from loadtests import phrases

MAX_TOKENS = 12
NAMED_SERVER = "tiny-qwen-a"  # a server by name: that server first, then the rest of its route
SLOW_ROUTE = "soak-slow"  # the soak's route to its slow upstream (loadtests/soak.py)

Expect = Literal["chat", "stream", "embedding", "rerank", "transcript", "audio", "route"]
CHAT = "/v1/chat/completions"


@dataclass(frozen=True)
class Media:
    """Made once at the start of a run (loadtests/media.py), sent as data: URLs or uploads."""

    png: bytes  # a small image
    wav: bytes  # a few seconds of English speech
    mp4: bytes  # a short clip


@dataclass(frozen=True)
class Call:
    """One request as a user sends it: a JSON body, or a multipart upload."""

    path: str
    expect: Expect
    json: dict[str, Any] | None = None
    form: dict[str, str] = field(default_factory=dict)
    upload: tuple[str, bytes, str] | None = None  # (file name, bytes, content type)
    query: str = ""

    @property
    def stream(self) -> bool:
        return self.expect == "stream"

    def routed(self) -> tuple[str, dict[str, Any]]:
        """The endpoint and the fields the proxy routes by (for /route: the body it is asked
        about), as `POST /route?endpoint=...` takes them."""
        if self.path == "/route":
            return self.query.removeprefix("endpoint="), dict(self.json or {})
        if self.upload is not None:
            return self.path, dict(self.form)
        return self.path, dict(self.json or {})

    def encoded(self) -> tuple[bytes, str]:
        """The body's bytes and content type, as they go on the wire."""
        if self.upload is None:
            return json.dumps(self.json).encode(), "application/json"
        return multipart(self.form, self.upload)


Builder = Callable[[Media, random.Random], Call]


@dataclass(frozen=True)
class Entry:
    name: str  # the request's name in locust's statistics and in the summary
    weight: int
    intent: str | None  # the intent it exercises; None for a server named outright
    build: Builder


def multipart(fields: dict[str, str], upload: tuple[str, bytes, str]) -> tuple[bytes, str]:
    boundary = f"modelyard-{uuid.uuid4().hex}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    filename, data, mime = upload
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {mime}\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _say(rng: random.Random, said: phrases.Phrases) -> str:
    return rng.choice(said)[1]


def _chat(model: str, content: str | list[dict[str, Any]], stream: bool = False) -> Call:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": MAX_TOKENS,
    }
    if stream:
        body["stream"] = True
    return Call(CHAT, "stream" if stream else "chat", json=body)


def _with(part: dict[str, Any], text: str) -> list[dict[str, Any]]:
    return [part, {"type": "text", "text": text}]


def image_part(media: Media) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url("image/png", media.png)}}


def audio_part(media: Media) -> dict[str, Any]:
    data = base64.b64encode(media.wav).decode()
    return {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}


def video_part(media: Media) -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": data_url("video/mp4", media.mp4)}}


def named_chat(media: Media, rng: random.Random) -> Call:
    return _chat(NAMED_SERVER, _say(rng, phrases.AGENT))


def named_stream(media: Media, rng: random.Random) -> Call:
    return _chat(NAMED_SERVER, _say(rng, phrases.AGENT), stream=True)


def agent(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _say(rng, phrases.AGENT))


def agent_stream(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _say(rng, phrases.AGENT), stream=True)


def spoken_answer(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _say(rng, phrases.TTS))


def heard(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _with(audio_part(media), _say(rng, phrases.STT)))


def avatar(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _with(image_part(media), _say(rng, phrases.AVATAR)))


def seen(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _with(image_part(media), _say(rng, phrases.MULTIMODAL)))


def watched(media: Media, rng: random.Random) -> Call:
    return _chat("auto", _with(video_part(media), _say(rng, phrases.VIDEO)))


def embeddings(media: Media, rng: random.Random) -> Call:
    texts = rng.sample(phrases.PASSAGES, rng.randint(1, 4))
    return Call("/v1/embeddings", "embedding", json={"model": "auto", "input": texts})


def rerank(media: Media, rng: random.Random) -> Call:
    body = {
        "model": "auto",
        "query": _say(rng, phrases.QUERIES),
        "documents": rng.sample(phrases.PASSAGES, 4),
    }
    return Call("/v1/rerank", "rerank", json=body)


def transcription(media: Media, rng: random.Random) -> Call:
    form = {"model": "whisper-1", "language": "en"}
    return Call(
        "/v1/audio/transcriptions",
        "transcript",
        form=form,
        upload=("speech.wav", media.wav, "audio/wav"),
    )


def speech(media: Media, rng: random.Random) -> Call:
    body = {"model": "tts-1", "voice": "alloy", "input": _say(rng, phrases.SPOKEN)}
    body["response_format"] = "wav"
    return Call("/v1/audio/speech", "audio", json=body)


# /route: the decision only. Bodies of the other entries, as an app that checks first sends.
_ROUTED: tuple[Builder, ...] = (agent, spoken_answer, avatar, seen, heard, embeddings, speech)


def route_only(media: Media, rng: random.Random) -> Call:
    asked = rng.choice(_ROUTED)(media, rng)
    assert asked.json is not None
    return Call("/route", "route", json=asked.json, query=f"endpoint={asked.path}")


def slow_stream(media: Media, rng: random.Random) -> Call:
    return _chat(SLOW_ROUTE, _say(rng, phrases.AGENT), stream=True)


LOAD: tuple[Entry, ...] = (
    Entry("chat named", 12, None, named_chat),
    Entry("chat named stream", 8, None, named_stream),
    Entry("auto agent", 10, "agent", agent),
    Entry("auto agent stream", 6, "agent", agent_stream),
    Entry("auto tts (spoken answer)", 2, "tts", spoken_answer),
    Entry("auto stt (audio part)", 3, "stt", heard),
    Entry("auto avatar (image)", 2, "avatar", avatar),
    Entry("auto multimodal (image)", 5, "multimodal", seen),
    Entry("auto video", 2, "video", watched),
    Entry("embeddings", 8, "embed", embeddings),
    Entry("rerank", 4, "rerank", rerank),
    Entry("audio transcriptions", 3, "stt", transcription),
    Entry("audio speech", 4, "tts", speech),
    Entry("route (decision only)", 10, None, route_only),
)

# The soak adds a slow upstream (tokens 0.3 s apart, stalled on a schedule) behind its own route.
SOAK: tuple[Entry, ...] = (*LOAD, Entry("slow upstream stream", 3, None, slow_stream))

MIXES = {"load": LOAD, "soak": SOAK}
