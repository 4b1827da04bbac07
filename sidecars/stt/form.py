"""Read an `/v1/audio/*` multipart request into a validated form and the uploaded bytes.

The field names and limits are OpenAI's: `file` is required and at most 25 MB by default; a
body that declares itself larger is refused before it is read. Empty text fields count as
absent, as `curl -F language=` means "no hint", not "the language called ''".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from sidecars.stt.errors import BadRequestError, PayloadTooLargeError

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
Granularity = Literal["word", "segment"]


class AudioForm(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: ResponseFormat = "json"
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)
    timestamp_granularities: tuple[Granularity, ...] = ("segment",)


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


async def read(request: Request, max_bytes: int) -> tuple[AudioForm, Upload]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + 64 * 1024:  # room for the other parts
        raise _too_large(max_bytes)
    async with request.form() as form:
        upload = form.get("file")
        if upload is None:
            raise BadRequestError("Missing required field 'file'.", param="file")
        if not isinstance(upload, UploadFile):
            raise BadRequestError("Field 'file' must be a file upload.", param="file")
        data = await upload.read(max_bytes + 1)
        filename = upload.filename or "file"
        fields: dict[str, object] = {
            key: value
            for key, value in form.multi_items()
            if isinstance(value, str) and value != "" and key != "file"
        }
        granularities = form.getlist("timestamp_granularities[]")
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if granularities:
        fields["timestamp_granularities"] = [g for g in granularities if isinstance(g, str)]
    return _validate(fields), Upload(filename, data)


def _validate(fields: dict[str, object]) -> AudioForm:
    try:
        return AudioForm.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else None
        raise BadRequestError(f"Invalid '{param}': {first['msg']}.", param=param) from exc


def _too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"File is larger than the {max_bytes // (1024 * 1024)} MB limit.", param="file"
    )
