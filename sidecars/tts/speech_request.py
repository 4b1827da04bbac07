"""The body of POST /v1/audio/speech, validated once into a typed value.

Fields follow OpenAI's API; `language` (ISO 639-1) is our extension. Unknown fields are
ignored rather than refused, so a client sending a newer OpenAI field (`instructions`) still
gets speech. Every validation failure becomes one 400 naming the offending field as `param`.
"""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from sidecars.tts.encode import ResponseFormat
from sidecars.tts.errors import BadRequestError, UnsupportedFormatError

MAX_INPUT_CHARS = 4096  # OpenAI's limit for /v1/audio/speech
FORMATS: tuple[str, ...] = get_args(ResponseFormat)


class SpeechBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str = Field(min_length=1)
    input: str = Field(max_length=MAX_INPUT_CHARS)
    voice: str = Field(min_length=1)
    response_format: ResponseFormat = "mp3"  # OpenAI's default
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}([-_][A-Za-z0-9]+)*$")

    @field_validator("input")
    @classmethod
    def _speakable(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty or only whitespace")
        return value


def parse_speech_body(raw: bytes) -> SpeechBody:
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadRequestError("request body must be a JSON object")
    try:
        return SpeechBody.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc) from exc


def _translate(exc: ValidationError) -> BadRequestError:
    first = exc.errors()[0]
    param = str(first["loc"][0]) if first["loc"] else None
    if param == "response_format":
        return UnsupportedFormatError(
            f"response_format {first['input']!r} is not supported; use one of {list(FORMATS)}",
            param,
        )
    message = first["msg"].removeprefix("Value error, ")
    return BadRequestError(f"{param}: {message}", param)
