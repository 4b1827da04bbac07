"""The sidecar's one error tree, on the wire in OpenAI's shape (openai_wire.errors).

    TtsError                    500  {"error": {"message", "type", "param", "code"}}
    ├── BadRequestError         400  a field is missing, malformed or names something unsupported
    │   ├── UnsupportedLanguageError  no engine of the model speaks the language
    │   └── UnsupportedFormatError    a response_format the encoder lacks
    ├── ModelNotFoundError      404  `model` is neither an OpenAI TTS model nor a loaded engine
    ├── EngineFailedError       500  a synthesiser crashed or produced no audio
    └── EncodeFailedError       500  the codec rejected the audio

    EngineSetupError                 at start, before serving: not one engine could be loaded

Engines translate their foreign exceptions into EngineFailedError once, where they call the
synthesiser; anything else that escapes is caught only by the last-resort handler
(openai_wire.errors), which answers with the exception's class and message.
"""

from __future__ import annotations

from openai_wire.errors import BAD_REQUEST, INTERNAL, MODEL_NOT_FOUND, ApiError


class TtsError(ApiError):
    pass


class BadRequestError(TtsError):
    fault = BAD_REQUEST.with_code("invalid_value")


class UnsupportedLanguageError(BadRequestError):
    fault = BAD_REQUEST.with_code("unsupported_language")  # as the STT sidecar's


class UnsupportedFormatError(BadRequestError):
    fault = BAD_REQUEST.with_code("unsupported_response_format")


class ModelNotFoundError(TtsError):
    fault = MODEL_NOT_FOUND


class EngineFailedError(TtsError):
    fault = INTERNAL.with_code("engine_failed")


class EncodeFailedError(TtsError):
    fault = INTERNAL.with_code("encode_failed")


class EngineSetupError(Exception):
    """The sidecar cannot serve: not one engine loaded. The message says why for each."""
