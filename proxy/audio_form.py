"""An `/v1/audio/transcriptions` or `/translations` upload, read once into a body the chain can
send to any server in turn.

The proxy checks only what it needs to route (a file is there, the size is within OpenAI's
limit) and keeps every other field as the client sent it: the server that answers (vLLM's
Whisper or the STT sidecar) validates the rest and its 400 reaches the client unchanged.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from proxy.bodies import FormBody, Upload
from proxy.errors import BadRequestError, PayloadTooLargeError

# OpenAI's documented limit for audio uploads.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
_FORM_SLACK = 64 * 1024  # the text fields and multipart framing around the file


async def read_audio_form(request: Request, max_bytes: int = MAX_UPLOAD_BYTES) -> FormBody:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequestError(
            "Audio uploads are multipart/form-data with a 'file' field, as OpenAI's API takes.",
            param="file",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FORM_SLACK:
        raise _too_large(max_bytes)
    fields: list[tuple[str, str]] = []
    files: list[Upload] = []
    async with request.form(max_files=4, max_fields=64) as form:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read(max_bytes + 1)
                if len(data) > max_bytes:
                    raise _too_large(max_bytes)
                content_type = value.content_type or "application/octet-stream"
                files.append(Upload(key, value.filename or "audio", content_type, data))
            else:
                fields.append((key, value))
    if not any(upload.field == "file" for upload in files):
        raise BadRequestError("Missing required field 'file' (the audio to read).", param="file")
    return FormBody(tuple(fields), tuple(files))


def routing_payload(body: FormBody) -> dict[str, Any]:
    """The form's fields that routing looks at, in the shape `features.extract` reads."""
    return {
        key: value
        for key in ("model", "prompt", "language")
        if (value := body.field(key)) is not None and value != ""
    }


def _too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The upload is larger than {max_bytes // (1024 * 1024)} MB, the limit for audio files.",
        param="file",
    )
