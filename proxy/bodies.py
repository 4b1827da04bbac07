"""The request body one attempt sends upstream: the client's request, with `model` set to the
name the chosen server answers to, and its max_tokens lowered to the server's ceiling.

Rendered afresh for every attempt, because each server in a chain has its own name and
ceiling (`servers.<name>.max_tokens`), and because aiohttp consumes a multipart form once it
has been sent. Audio uploads arrive as multipart forms (OpenAI's /v1/audio/transcriptions)
and go on as multipart, with the file's bytes untouched.

A ceiling applies to text generation (a chat's `messages`, a completion's `prompt`): a larger
`max_tokens` or `max_completion_tokens` is lowered to it, and an absent one set to it, since
"as many as the context allows" is more than the server takes. `capped` says when a body was
lowered, for the response's `x-modelyard-max-tokens`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

JSON = "application/json"


@dataclass(frozen=True)
class Outgoing:
    data: bytes | aiohttp.FormData
    content_type: str | None  # None: the form sets its own, with its boundary


class Body(Protocol):
    def render(self, model: str, max_tokens: int | None = None) -> Outgoing: ...

    def capped(self, max_tokens: int | None) -> int | None: ...


TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")


@dataclass(frozen=True)
class JsonBody:
    payload: dict[str, Any]

    def render(self, model: str, max_tokens: int | None = None) -> Outgoing:
        """The body for the server named `model`, within its ceiling `max_tokens`."""
        sent = {**self.payload, "model": model}
        ceiling = self.capped(max_tokens)
        if ceiling is not None:
            asked = [key for key in TOKEN_FIELDS if sent.get(key) is not None]
            for key in asked or ["max_tokens"]:
                sent[key] = min(sent.get(key) or ceiling, ceiling)
        return Outgoing(json.dumps(sent).encode(), JSON)

    def capped(self, max_tokens: int | None) -> int | None:
        """The ceiling, when it lowers what this body asks (or asks without a bound)."""
        if max_tokens is None or ("messages" not in self.payload and "prompt" not in self.payload):
            return None
        asked = [self.payload.get(key) for key in TOKEN_FIELDS]
        bounded = [n for n in asked if isinstance(n, int)]
        if bounded and max(bounded) <= max_tokens:
            return None
        return max_tokens


@dataclass(frozen=True)
class Upload:
    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FormBody:
    fields: tuple[tuple[str, str], ...]  # the client's text fields, in its order
    files: tuple[Upload, ...]

    def render(self, model: str, max_tokens: int | None = None) -> Outgoing:
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("model", model)
        for name, value in self.fields:
            if name != "model":
                form.add_field(name, value)
        for upload in self.files:
            form.add_field(
                upload.field,
                upload.data,
                filename=upload.filename,
                content_type=upload.content_type,
            )
        return Outgoing(form, None)

    def capped(self, max_tokens: int | None) -> int | None:
        return None  # a transcription has no max_tokens

    def field(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)
