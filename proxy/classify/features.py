"""What a request carries, read once from its endpoint and body: the classifier's raw input.

Pure and cheap (no model, no I/O): content parts, output modalities, tools, size, and the
text whose meaning and language the later stages look at (the last user turn, the speech
endpoint's `input`, a transcription's `prompt`, the texts to embed or rank). The Responses and
Messages APIs are read through the chat they amount to (proxy/apis).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard_config.endpoints import (
    ANTHROPIC,
    AUDIO_UPLOADS,
    COMPLETIONS,
    POOLING,
    RESPONSES,
    SPEECH,
)
from proxy.apis import messages, pooling, responses

# The classifier reads at most this much of a request's text: its head and its tail, where
# people say what they want ("translate this:", "... summarise the above"). The cue regexes
# cost ~10 us a character (one alternation per intent, tried at every position), so an
# unbounded 8 MB prompt held the event loop for minutes; 2,048 characters cost ~25 ms.
CLASSIFIED_CHARS = 2048

_PART_KINDS = {
    "image_url": "image",
    "input_image": "image",
    "input_audio": "audio",
    "audio_url": "audio",
    "video_url": "video",
    "input_video": "video",
}


def classified(text: str, limit: int = CLASSIFIED_CHARS) -> str:
    """`text`, or its first and last `limit // 2` characters when it is longer."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n" + text[-half:]


@dataclass(frozen=True)
class Features:
    endpoint: str
    image: bool = False
    audio_in: bool = False
    video: bool = False
    audio_out: bool = False
    tools: bool = False
    messages: int = 0
    prompt_chars: int = 0
    text: str = ""  # what the user asks, for meaning and language
    language_hint: str | None = None  # an explicit `language` field
    max_tokens: int | None = None  # what the client allows the answer

    @property
    def modalities(self) -> list[str]:
        found = ["text"] if self.text else []
        found += [
            m
            for m, on in (("image", self.image), ("audio", self.audio_in), ("video", self.video))
            if on
        ]
        return found


def extract(endpoint: str, body: dict[str, Any]) -> Features:
    if endpoint in AUDIO_UPLOADS:
        prompt = _str(body.get("prompt"))
        return Features(
            endpoint,
            audio_in=True,
            text=classified(prompt),
            prompt_chars=len(prompt),
            language_hint=_str(body.get("language")) or None,
        )
    if endpoint == SPEECH:
        text = _str(body.get("input"))
        return Features(endpoint, audio_out=True, text=classified(text), prompt_chars=len(text))
    if endpoint in POOLING:
        texts = pooling.texts(endpoint, body)
        # the longest one item: a batch is many requests to the server's context, not one
        longest = max((len(t) for t in texts), default=0)
        # the first few texts, each cut first: a batch of 8 MB strings is never joined whole
        text = classified(" ".join(classified(t) for t in texts[:8]))
        return Features(endpoint, text=text, prompt_chars=longest)
    if endpoint == RESPONSES:
        return _chat(endpoint, responses.chat_view(body))
    if endpoint in ANTHROPIC:
        return _chat(endpoint, messages.chat_view(body))
    if endpoint == COMPLETIONS:
        raw = body.get("prompt")
        text = raw if isinstance(raw, str) else " ".join(p for p in raw or [] if isinstance(p, str))
        return Features(
            endpoint, text=classified(text), prompt_chars=len(text), max_tokens=_max_tokens(body)
        )
    return _chat(endpoint, body)


def _chat(endpoint: str, body: dict[str, Any]) -> Features:
    kinds: set[str] = set()
    chars = 0
    last_user = ""
    messages = body.get("messages") or []
    for message in messages:
        if not isinstance(message, dict):
            continue
        texts = []
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            for part in content:
                if not isinstance(part, dict):
                    continue
                kind = _PART_KINDS.get(str(part.get("type")))
                if kind:
                    kinds.add(kind)
                elif isinstance(part.get("text"), str):
                    texts.append(part["text"])
        joined = " ".join(texts)
        chars += len(joined)
        if message.get("role") == "user" and joined.strip():
            last_user = joined
    modalities = body.get("modalities") or []
    audio_out = (isinstance(modalities, list) and "audio" in modalities) or bool(body.get("audio"))
    return Features(
        endpoint,
        image="image" in kinds,
        audio_in="audio" in kinds,
        video="video" in kinds,
        audio_out=audio_out,
        tools=bool(body.get("tools") or body.get("functions")),
        messages=len(messages),
        prompt_chars=chars,
        text=classified(last_user),
        max_tokens=_max_tokens(body),
    )


def _max_tokens(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
