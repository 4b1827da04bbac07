"""Checks the chat-like APIs share: counts within `proxy.limits`, token bounds, ids. Each
refusal is a 400 naming the field and, for a limit, its key."""

from __future__ import annotations

import re
from typing import Any

from modelyard_config.limits import Limits
from proxy.errors import BadRequestError

# Media content parts, in every API's spelling: OpenAI chat's, the Responses API's, Anthropic's.
MEDIA_PARTS = frozenset(
    {
        "image_url",
        "input_image",
        "input_audio",
        "audio_url",
        "video_url",
        "input_video",
        "file",
        "input_file",
        "image",
        "document",
    }
)
# A response id as vLLM and OpenAI write them (`resp_` and hex): bounded, so that a path or
# a field can never carry a slash, a query or megabytes into the memory of ids.
RESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class Counter:
    """Counts messages, parts and media parts of one request against its limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parts = 0
        self.media = 0

    def messages(self, count: int, param: str) -> None:
        if count > self.limits.messages:
            raise over("messages", self.limits.messages, "messages", param)

    def part(self, kind: str, param: str) -> None:
        self.parts += 1
        if self.parts > self.limits.content_parts:
            raise over("content parts", self.limits.content_parts, "content_parts", param)
        if kind in MEDIA_PARTS:
            self.media += 1
            if self.media > self.limits.media_parts:
                raise over(
                    "media parts (images, audio, video, files)",
                    self.limits.media_parts,
                    "media_parts",
                    param,
                )


def counted_messages(payload: dict[str, Any], limits: Limits) -> tuple[list[Any], Counter]:
    """A chat's or a Messages request's `messages`, non-empty and within the limit, with the
    counter its parts are then counted on."""
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequestError("'messages' must be a non-empty array.", param="messages")
    counter = Counter(limits)
    counter.messages(len(messages), "messages")
    return messages, counter


def over(what: str, limit: int, key: str, param: str) -> BadRequestError:
    return BadRequestError(
        f"The request holds more than {limit} {what}, the limit set by proxy.limits.{key}.",
        param=param,
    )


def positive_int(payload: dict[str, Any], key: str, required: bool = False) -> None:
    value = payload.get(key)
    if value is None:
        if required:
            raise BadRequestError(f"'{key}' is required.", param=key)
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadRequestError(f"'{key}' must be a positive integer; got {value!r}.", param=key)


def typed_part(part: object, param: str) -> str:
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise BadRequestError(f"'{param}' must be an object with a string 'type'.", param=param)
    kind: str = part["type"]
    return kind


def response_id(value: object, param: str) -> str:
    if not isinstance(value, str) or not RESPONSE_ID.fullmatch(value):
        raise BadRequestError(
            f"'{param}' must be a response id such as 'resp_0123abcd' (letters, digits, '_' "
            "and '-', at most 128).",
            param=param,
        )
    return value


def counted_content(content: object, where: str, counter: Counter, parts: str) -> None:
    """A turn's content: a string, or an array of typed `parts` ("content parts", "content
    blocks"), each counted against the request's limits."""
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise BadRequestError(
            f"'{where}.content' must be a string or an array of {parts}.",
            param=f"{where}.content",
        )
    for j, part in enumerate(content):
        param = f"{where}.content[{j}]"
        counter.part(typed_part(part, param), param)
