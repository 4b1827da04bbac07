"""The sidecar's one error tree and the handlers that put it on the wire in OpenAI's shape.

    TtsError                    500  {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError         400  a field is missing, malformed or names something unsupported
    ├── ModelNotFoundError      404  `model` is neither an OpenAI TTS model nor a loaded engine
    ├── EngineFailedError       500  a synthesiser crashed or produced no audio
    └── EncodeFailedError       500  the codec rejected the audio

    EngineSetupError                 at start, before serving: not one engine could be loaded

Engines translate their foreign exceptions into EngineFailedError once, where they call the
synthesiser; anything else that escapes is caught only by the last-resort handler
(sidecars/openai_errors.py), which answers with the exception's class and message.
"""

from __future__ import annotations

from sidecars.openai_errors import OpenAIError


class TtsError(OpenAIError):
    pass


class BadRequestError(TtsError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_value"


class ModelNotFoundError(TtsError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class EngineFailedError(TtsError):
    code = "engine_failed"


class EncodeFailedError(TtsError):
    code = "encode_failed"


class EngineSetupError(Exception):
    """The sidecar cannot serve: not one engine loaded. The message says why for each."""
