"""The sidecar's one error tree, on the wire in OpenAI's shape (openai_wire.errors).

    SttError                        {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError       400   a missing or malformed form field
    │   ├── UnreadableAudioError    the upload is not audio PyAV can decode, or holds none
    │   ├── UnsupportedLanguageError  `language` is not one the chosen model speaks
    │   └── UnsupportedTaskError    translation asked of an English-only model
    ├── UnknownModelError     404   `model` names no loaded model (lists the known ones)
    └── PayloadTooLargeError  413   the upload is over the size limit
        └── AudioTooLongError       its audio is longer than `max_audio_seconds`

    ModelSetupError                 at start: a model directory is missing or cannot be built

PyAV and Starlette exceptions are translated into this tree once, where they are raised
(`audio.decode`, `app`), so a client never sees a 500 for a bad upload. The 404 and 413 are
the proxy's and the TTS sidecar's too: the same fault has the same code everywhere.
"""

from __future__ import annotations

from openai_wire.errors import (
    BAD_REQUEST,
    MODEL_NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    ApiError,
)


class SttError(ApiError):
    pass


class BadRequestError(SttError):
    fault = BAD_REQUEST


class UnreadableAudioError(BadRequestError):
    fault = BAD_REQUEST.with_code("invalid_audio")


class UnsupportedLanguageError(BadRequestError):
    fault = BAD_REQUEST.with_code("unsupported_language")


class UnsupportedTaskError(BadRequestError):
    fault = BAD_REQUEST.with_code("unsupported_task")


class UnknownModelError(SttError):
    fault = MODEL_NOT_FOUND


class PayloadTooLargeError(SttError):
    fault = PAYLOAD_TOO_LARGE


class AudioTooLongError(PayloadTooLargeError):
    fault = PAYLOAD_TOO_LARGE.with_code("audio_too_long")


class ModelSetupError(Exception):
    """Raised before the server binds; the CLI prints it and exits non-zero."""
