"""The request body one attempt sends upstream: the client's request, with `model` set to the
name the chosen server answers to, and its max_tokens lowered to the server's ceiling.

Rendered afresh for every attempt, because each server in a chain has its own name and
ceiling (`servers.<name>.max_tokens`), and because aiohttp consumes a multipart form once it
has been sent. Audio uploads arrive as multipart forms (OpenAI's /v1/audio/transcriptions)
and go on as multipart, with the file's bytes untouched.

A ceiling applies to text generation (chat, completions, a Responses or Messages request): a
larger `max_tokens`, `max_completion_tokens` or `max_output_tokens` is lowered to it, and an
absent one set to it, since "as many as the context allows" is more than the server takes.
`capped` says when a body was lowered, for the response's `x-modelyard-max-tokens`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from modelyard_config.endpoints import CHAT, COMPLETIONS, MESSAGES, RESPONSES

JSON = "application/json"


@dataclass(frozen=True)
class Outgoing:
    data: bytes | aiohttp.FormData | None
    content_type: str | None  # None: the form sets its own, with its boundary
    method: str = "POST"


class Body(Protocol):
    def render(self, model: str, max_tokens: int | None = None) -> Outgoing: ...

    def capped(self, max_tokens: int | None) -> int | None: ...


TOKEN_FIELDS = ("max_tokens", "max_completion_tokens")
# The fields that bound an answer's tokens, by endpoint (the first is set when none is given);
# an endpoint absent here generates no tokens (speech, embeddings, rerank, a token count).
TOKEN_FIELDS_OF = {
    CHAT: TOKEN_FIELDS,
    COMPLETIONS: ("max_tokens",),
    RESPONSES: ("max_output_tokens",),
    MESSAGES: ("max_tokens",),
}


@dataclass(frozen=True)
class JsonBody:
    payload: dict[str, Any]
    # None: a chat's or a completion's, told by its `messages` or `prompt` (compose.py)
    token_fields: tuple[str, ...] | None = None

    @classmethod
    def of(cls, endpoint: str, payload: dict[str, Any]) -> JsonBody:
        return cls(payload, TOKEN_FIELDS_OF.get(endpoint, ()))

    @property
    def _fields(self) -> tuple[str, ...]:
        if self.token_fields is not None:
            return self.token_fields
        generates = "messages" in self.payload or "prompt" in self.payload
        return TOKEN_FIELDS if generates else ()

    def render(self, model: str, max_tokens: int | None = None) -> Outgoing:
        """The body for the server named `model`, within its ceiling `max_tokens`."""
        return Outgoing(json.dumps(self.fields(model, max_tokens)).encode(), JSON)

    def fields(self, model: str, max_tokens: int | None = None) -> dict[str, Any]:
        """The body as a dict, before it is encoded: what a remote server's LiteLLM call takes
        as its arguments (proxy/remote_calls.py), with the same ceiling as a local server's."""
        sent = {**self.payload, "model": model}
        ceiling = self.capped(max_tokens)
        if ceiling is not None:
            fields = self._fields
            asked = [key for key in fields if sent.get(key) is not None]
            for key in asked or fields[:1]:
                sent[key] = min(sent.get(key) or ceiling, ceiling)
        return sent

    def capped(self, max_tokens: int | None) -> int | None:
        """The ceiling, when it lowers what this body asks (or asks without a bound)."""
        fields = self._fields
        if max_tokens is None or not fields:
            return None
        asked = [self.payload.get(key) for key in fields]
        bounded = [n for n in asked if isinstance(n, int)]
        if bounded and max(bounded) <= max_tokens:
            return None
        return max_tokens


@dataclass(frozen=True)
class NoBody:
    """A request that carries nothing but its path: `GET /v1/responses/{id}`, its cancel."""

    method: str = "GET"

    def render(self, model: str, max_tokens: int | None = None) -> Outgoing:
        return Outgoing(None, None, self.method)

    def capped(self, max_tokens: int | None) -> int | None:
        return None


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
