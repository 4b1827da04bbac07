"""Anthropic's Messages API (`POST /v1/messages` and `/v1/messages/count_tokens`): its body
checked, and read as the chat it amounts to, so that it is classified and routed as chat is.

`system` is a string or text blocks; `messages` alternate `user` and `assistant`, each a
string or content blocks: `text`, `image` (a base64 or URL `source`), `document`,
`tool_use`, `tool_result` (whose content is a string or blocks again), `thinking`.
`max_tokens` is required for a message (Anthropic's rule), not for a count.
"""

from __future__ import annotations

from typing import Any

from modelyard_config.endpoints import MESSAGES
from modelyard_config.limits import Limits
from proxy.apis.shapes import Counter, counted_content, counted_messages, positive_int, typed_part
from proxy.errors import BadRequestError

ROLES = frozenset({"user", "assistant"})
# Blocks as the chat parts the classifier knows (features._PART_KINDS reads the type).
_PART_TYPES = {"image": "image_url", "document": "file"}
TOKEN_FIELDS = ("max_tokens",)


def check(endpoint: str, payload: dict[str, Any], limits: Limits) -> None:
    messages, counter = counted_messages(payload, limits)
    for i, message in enumerate(messages):
        _check_message(message, f"messages[{i}]", counter)
    system = payload.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list):
            raise BadRequestError("'system' must be a string or text blocks.", param="system")
        for j, block in enumerate(system):
            if typed_part(block, f"system[{j}]") != "text":
                raise BadRequestError(f"'system[{j}]' must be a text block.", f"system[{j}]")
    positive_int(payload, "max_tokens", required=endpoint == MESSAGES)


def _check_message(message: object, where: str, counter: Counter) -> None:
    if not isinstance(message, dict):
        raise BadRequestError(f"'{where}' must be an object.", param=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a dict or list is unhashable
        raise BadRequestError(
            f"'{where}.role' must be 'user' or 'assistant'; got {role!r}.", param=f"{where}.role"
        )
    counted_content(message.get("content"), where, counter, "content blocks")


def chat_view(payload: dict[str, Any]) -> dict[str, Any]:
    """The chat request this Messages request amounts to, for the classifier only."""
    messages: list[dict[str, Any]] = []
    system = _text(payload.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in payload.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("role"), str):
            messages += _turn(message["role"], message.get("content"))
    view: dict[str, Any] = {"messages": messages, "tools": payload.get("tools")}
    view["max_tokens"] = payload.get("max_tokens")
    return view


def _turn(role: str, content: object) -> list[dict[str, Any]]:
    """One turn as chat messages. Its tool_result blocks are tool messages of their own, as
    the Responses API's function_call_output is: Anthropic carries a tool's output in a user
    turn, and read as the user's words, an agent loop would be classified turn by turn by
    whatever file or page its tools read."""
    if not isinstance(content, list):
        return [{"role": role, "content": content if isinstance(content, str) else ""}]
    blocks = [block for block in content if isinstance(block, dict)]
    results = [b for b in blocks if b.get("type") == "tool_result"]
    rest = [_part(b) for b in blocks if b.get("type") != "tool_result"]
    turn: list[dict[str, Any]] = [
        {"role": "tool", "content": _text(b.get("content"))} for b in results
    ]
    if rest or not results:
        turn.append({"role": role, "content": rest})
    return turn


def _part(block: dict[str, Any]) -> dict[str, Any]:
    kind = str(block.get("type"))
    if kind == "text":
        return {"type": "text", "text": block.get("text")}
    return {"type": _PART_TYPES.get(kind, kind)}


def _text(value: object) -> str:
    """A string, or the text of text blocks."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return " ".join(
            b["text"] for b in value if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""
