"""The sidecar's one error tree, and the one handler that puts it on the wire in OpenAI's shape.

    SttError                        {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError       400   a missing or malformed form field
    │   ├── UnreadableAudioError    the upload is not audio PyAV can decode, or holds none
    │   ├── UnsupportedLanguageError  `language` is not one the chosen model speaks
    │   ├── UnknownModelError       `model` names no loaded model (lists the known ones)
    │   └── UnsupportedTaskError    translation asked of an English-only model
    └── PayloadTooLargeError  413   the upload is over the size limit

    ModelSetupError                 at start: a model directory is missing or cannot be built

PyAV and Starlette exceptions are translated into this tree once, where they are raised
(`audio.decode`, `app`), so a client never sees a 500 for a bad upload.
"""

from __future__ import annotations

from sidecars.openai_errors import OpenAIError


class SttError(OpenAIError):
    pass


class BadRequestError(SttError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class UnreadableAudioError(BadRequestError):
    code = "invalid_audio"


class UnsupportedLanguageError(BadRequestError):
    code = "unsupported_language"


class UnknownModelError(BadRequestError):
    code = "model_not_found"


class UnsupportedTaskError(BadRequestError):
    code = "unsupported_task"


class PayloadTooLargeError(SttError):
    status = 413
    type = "invalid_request_error"
    code = "file_too_large"


class ModelSetupError(Exception):
    """Raised before the server binds; the CLI prints it and exits non-zero."""
