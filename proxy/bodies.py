"""The request body one attempt sends upstream: the client's request, with `model` set to the
name the chosen server answers to.

Rendered afresh for every attempt, because each server in a chain has its own name and
because aiohttp consumes a multipart form once it has been sent. Audio uploads arrive as
multipart forms (OpenAI's /v1/audio/transcriptions) and go on as multipart, with the file's
bytes untouched.
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
    def render(self, model: str) -> Outgoing: ...


@dataclass(frozen=True)
class JsonBody:
    payload: dict[str, Any]

    def render(self, model: str) -> Outgoing:
        return Outgoing(json.dumps({**self.payload, "model": model}).encode(), JSON)


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

    def render(self, model: str) -> Outgoing:
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

    def field(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)
