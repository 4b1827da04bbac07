"""Request bodies checked before anything reads them, so that a malformed one gets a 400
naming the field (`messages[1].content`) rather than a classifier crash or an upstream 500.

Beyond the shape of each field, a chat's size is bounded by `proxy.limits`: messages, content
parts in all messages and media parts (images, audio, video, files) in all messages, each a
400 naming the limit's key. An upload's fields are the server's to check, but for `language`:
the proxy routes by it and echoes it in `x-modelyard-language`, so it must be a language code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from modelyard_config.endpoints import (
    ANTHROPIC,
    CHAT,
    COMPLETIONS,
    POOLING,
    RESPONSES,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
from modelyard_config.limits import Limits
from proxy.apis import messages, pooling, responses
from proxy.apis.shapes import counted_messages, typed_part
from proxy.errors import BadRequestError

SPEECH_INPUT_LIMIT = 4096  # OpenAI's, for /v1/audio/speech
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# ISO 639-1 or 639-3, optionally a region or script: "en", "yue", "pt-BR", "zh_Hant".
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?")
DEFAULT_LIMITS = Limits()


def check_chat(payload: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    messages, counter = counted_messages(payload, limits)
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        content = _message_content(message, where)
        for j, part in enumerate(content or ()):
            param = f"{where}.content[{j}]"
            counter.part(typed_part(part, param), param)
    _check_max_tokens(payload, ("max_tokens", "max_completion_tokens"))


def _message_content(message: object, where: str) -> list[Any] | None:
    """A message's content parts; None when its content is a string or absent."""
    if not isinstance(message, dict):
        raise BadRequestError(f"'{where}' must be an object.", param=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise BadRequestError(
            f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
            param=f"{where}.role",
        )
    if "content" not in message and role not in ("assistant", "function"):
        raise BadRequestError(f"'{where}.content' is required.", param=f"{where}.content")
    content = message.get("content")
    if content is None or isinstance(content, str):
        return None
    if not isinstance(content, list):
        raise BadRequestError(
            f"'{where}.content' must be a string or an array of content parts.",
            param=f"{where}.content",
        )
    return content


def check_completion(payload: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    prompt = payload.get("prompt")
    if not (isinstance(prompt, str) or (isinstance(prompt, list) and prompt)):
        raise BadRequestError("'prompt' must be a string or a non-empty array.", param="prompt")
    _check_max_tokens(payload, ("max_tokens",))


def check_speech(payload: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    text = payload.get("input")
    if not isinstance(text, str) or not text.strip():
        raise BadRequestError("'input' must be a non-empty string (the text to speak).", "input")
    if len(text) > SPEECH_INPUT_LIMIT:
        raise BadRequestError(
            f"'input' is {len(text)} characters; the limit is {SPEECH_INPUT_LIMIT}.", "input"
        )


def check_upload(payload: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
    """The fields of a transcription or translation the proxy itself reads."""
    language = payload.get("language")
    if language is None or language == "":  # `curl -F language=`: no hint
        return
    if not isinstance(language, str) or not LANGUAGE.fullmatch(language):
        raise BadRequestError(
            f"'language' must be an ISO 639-1 language code such as 'en' or 'hi'; got "
            f"{language!r}.",
            param="language",
        )


def check_model(payload: dict[str, Any]) -> str | None:
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequestError("'model' must be a string.", param="model")
    return model


def check_body(endpoint: str, payload: dict[str, Any], limits: Limits) -> None:
    """The checks for `endpoint`'s body, within `limits` (the config's `proxy.limits`)."""
    check = _CHECKS.get(endpoint)
    if check is not None:
        check(payload, limits)
    elif endpoint in POOLING:
        pooling.check(endpoint, payload, limits)
    elif endpoint == RESPONSES:
        responses.check(payload, limits)
    elif endpoint in ANTHROPIC:
        messages.check(endpoint, payload, limits)


def _check_max_tokens(payload: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        value = payload.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise BadRequestError(f"'{key}' must be a positive integer; got {value!r}.", param=key)


_CHECKS: dict[str, Callable[[dict[str, Any], Limits], None]] = {
    CHAT: check_chat,
    COMPLETIONS: check_completion,
    SPEECH: check_speech,
    TRANSCRIPTIONS: check_upload,
    TRANSLATIONS: check_upload,
}
