"""Content parts of chat messages, read and rewritten for the degradations: where a part's URL
is, which container an audio URL names, an image part for a frame, and messages with parts of
some kinds replaced in order. Pure, but for `replace_parts` awaiting what replaces a part."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

Part = dict[str, Any]


def part_url(part: Part) -> object:
    """`{"type": "video_url", "video_url": {"url": U}}` (or the bare string some clients send)."""
    spec = part.get(part["type"]) or {}
    return spec.get("url") if isinstance(spec, dict) else spec


def audio_format(url: str) -> str:
    """The container a client's audio URL names: a data: URL's subtype, else the path's
    suffix; Whisper's decoder sniffs the bytes anyway, so the name is only a hint."""
    if url.startswith("data:"):
        return url[5:].split(";")[0].split(",")[0].rsplit("/", 1)[-1] or "wav"
    suffix = url.split("?")[0].rsplit("/", 1)[-1].rpartition(".")[2]
    return suffix if 0 < len(suffix) <= 5 else "wav"


def image_part(png: bytes) -> Part:
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return {"type": "image_url", "image_url": {"url": url}}


async def replace_parts(
    messages: list[dict[str, Any]],
    kinds: frozenset[str],
    replace: Callable[[Part, str], Awaitable[list[Part]]],
) -> list[dict[str, Any]]:
    """The messages with every content part of `kinds` replaced by what `replace` makes of it
    (given the part and its param path, `messages[i].content[j]`), in order."""
    result = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            parts: list[Part] = []
            for j, part in enumerate(content):
                if part.get("type") in kinds:
                    parts += await replace(part, f"messages[{i}].content[{j}]")
                else:
                    parts.append(part)
            message = {**message, "content": parts}
        result.append(message)
    return result
