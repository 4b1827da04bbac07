"""An `/v1/audio/transcriptions` or `/translations` upload, read once into a body the chain can
send to any server in turn.

The proxy checks only what it needs to route (a file is there, the size is within
`proxy.limits.upload_bytes`, the `language` is a code: validate.py) and keeps every other field
as the client sent it: the server that answers (vLLM's Whisper or the STT sidecar) validates
the rest and its 400 reaches the client unchanged.

The form is parsed from the request's bounded stream (request_body.py), not `request.form()`:
a chunked upload is refused at the chunk that crosses the limit, so nothing past it is read or
spooled to disk, and a client that stalls mid-file gets a 408. Starlette's parser spools a file
over 1 MiB to a temp file; every one is closed on every path, error or not.

What goes on names the file and its type in the part's headers, so a filename or content type
holding a control character (which aiohttp refuses to send) is replaced by a plain one, and a
field whose name holds one is a 400.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from modelyard_config.limits import Limits
from proxy.bodies import FormBody, Upload
from proxy.errors import BadRequestError, PayloadTooLargeError
from proxy.request_body import bounded_stream

# OpenAI's documented limit for audio uploads, and the default of proxy.limits.upload_bytes;
# compose.py reads an audio URL up to it.
MAX_UPLOAD_BYTES = 25 * 1024 * 1024
_FORM_SLACK = 64 * 1024  # the text fields and multipart framing around the file
_UPLOAD_KEY = "proxy.limits.upload_bytes"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTENT_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+(?:\s*;[^\x00-\x1f\x7f]*)?")


async def read_audio_form(request: Request, limits: Limits) -> FormBody:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequestError(
            "Audio uploads are multipart/form-data with a 'file' field, as OpenAI's API takes.",
            param="file",
        )
    max_bytes = limits.upload_bytes
    stream = bounded_stream(request, limits, max_bytes + _FORM_SLACK, _UPLOAD_KEY, "file")
    parser = MultiPartParser(
        request.headers, stream, max_files=4, max_fields=64, max_part_size=_FORM_SLACK
    )
    try:
        form = await parser.parse()  # closes what it spooled when it fails
    except MultiPartException as exc:
        raise BadRequestError(f"The upload is not a valid form: {exc.message}", "file") from exc
    try:
        return await _body(form, max_bytes)
    finally:
        await form.close()


async def _body(form: FormData, max_bytes: int) -> FormBody:
    fields: list[tuple[str, str]] = []
    files: list[Upload] = []
    for key, value in form.multi_items():
        if _CONTROL.search(key):
            raise BadRequestError(f"A form field's name holds a control character: {key!r}.")
        if isinstance(value, UploadFile):
            data = await value.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise _too_large(max_bytes)
            files.append(Upload(key, _filename(value.filename), _content_type(value), data))
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


def _filename(given: str | None) -> str:
    return given if given and not _CONTROL.search(given) else "audio"


def _content_type(upload: UploadFile) -> str:
    given = upload.content_type or ""
    return given if _CONTENT_TYPE.fullmatch(given) else "application/octet-stream"


def _too_large(max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The upload is larger than {max_bytes / 2**20:g} MiB, the limit set by {_UPLOAD_KEY}.",
        param="file",
    )
