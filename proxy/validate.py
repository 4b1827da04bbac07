"""Request bodies checked before anything reads them, so that a malformed one gets a 400
naming the field (`messages[1].content`) rather than a classifier crash or an upstream 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelyard_config.endpoints import CHAT, COMPLETIONS, SPEECH
from proxy.errors import BadRequestError

SPEECH_INPUT_LIMIT = 4096  # OpenAI's, for /v1/audio/speech
ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def check_chat(payload: dict[str, Any]) -> None:
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("'messages' must be a non-empty array.", param="messages")
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise BadRequestError(f"'{where}' must be an object.", param=where)
        role = message.get("role")
        if role not in ROLES:
            raise BadRequestError(
                f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
                param=f"{where}.role",
            )
        if "content" not in message and role not in ("assistant", "function"):
            raise BadRequestError(f"'{where}.content' is required.", param=f"{where}.content")
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise BadRequestError(
                f"'{where}.content' must be a string or an array of content parts.",
                param=f"{where}.content",
            )
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequestError(
                    f"'{where}.content[{j}]' must be an object with a string 'type'.",
                    param=f"{where}.content[{j}]",
                )


def check_completion(payload: dict[str, Any]) -> None:
    prompt = payload.get("prompt")
    if isinstance(prompt, str) or (isinstance(prompt, list) and prompt):
        return
    raise BadRequestError("'prompt' must be a string or a non-empty array.", param="prompt")


def check_speech(payload: dict[str, Any]) -> None:
    text = payload.get("input")
    if not isinstance(text, str) or not text.strip():
        raise BadRequestError("'input' must be a non-empty string (the text to speak).", "input")
    if len(text) > SPEECH_INPUT_LIMIT:
        raise BadRequestError(
            f"'input' is {len(text)} characters; the limit is {SPEECH_INPUT_LIMIT}.", "input"
        )


def check_model(payload: dict[str, Any]) -> str | None:
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequestError("'model' must be a string.", param="model")
    return model


def check_body(endpoint: str, payload: dict[str, Any]) -> None:
    """The checks for `endpoint`'s body, if it has any (an upload's fields are the server's)."""
    check = _CHECKS.get(endpoint)
    if check is not None:
        check(payload)


_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    CHAT: check_chat,
    COMPLETIONS: check_completion,
    SPEECH: check_speech,
}
