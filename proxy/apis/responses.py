"""OpenAI's Responses API (`POST /v1/responses`): its body checked, and read as the chat it
amounts to, so that it is classified and routed exactly as chat is.

`input` is a string (one user turn) or a list of items: messages (`role` and `content`, a
string or parts: `input_text`, `input_image`, `input_audio`, `input_file`, an assistant's
`output_text`), tool calls and their outputs. `instructions` is the system message;
`max_output_tokens` is the answer's bound; `tools` ask for a server that takes tools.
"""

from __future__ import annotations

from typing import Any

from modelyard_config.limits import Limits
from proxy.apis.shapes import Counter, counted_content, positive_int, response_id
from proxy.errors import BadRequestError

ROLES = frozenset({"user", "assistant", "system", "developer"})
# Input parts as the chat parts the classifier knows (features._PART_KINDS reads the type).
_PART_TYPES = {
    "input_text": "text",
    "output_text": "text",
    "refusal": "text",
    "input_image": "input_image",
    "input_audio": "input_audio",
    "input_file": "input_file",
    "input_video": "input_video",
}
TOKEN_FIELDS = ("max_output_tokens",)


def check(payload: dict[str, Any], limits: Limits) -> None:
    items = payload.get("input")
    if isinstance(items, str):
        pass
    elif isinstance(items, list) and items:
        counter = Counter(limits)
        counter.messages(len(items), "input")
        for i, item in enumerate(items):
            _check_item(item, f"input[{i}]", counter)
    else:
        raise BadRequestError(
            "'input' must be a string or a non-empty array of input items.", param="input"
        )
    instructions = payload.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadRequestError("'instructions' must be a string.", param="instructions")
    if payload.get("previous_response_id") is not None:
        response_id(payload["previous_response_id"], "previous_response_id")
    positive_int(payload, "max_output_tokens")


def _check_item(item: object, where: str, counter: Counter) -> None:
    if not isinstance(item, dict):
        raise BadRequestError(f"'{where}' must be an object.", param=where)
    kind = item.get("type", "message")
    if kind != "message" and "role" not in item:
        if not isinstance(kind, str):
            raise BadRequestError(f"'{where}.type' must be a string.", param=f"{where}.type")
        return  # function_call, function_call_output, reasoning, item_reference: the server's
    role = item.get("role")
    if not isinstance(role, str) or role not in ROLES:  # a dict or list is unhashable
        raise BadRequestError(
            f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
            param=f"{where}.role",
        )
    counted_content(item.get("content"), where, counter, "content parts")


def chat_view(payload: dict[str, Any]) -> dict[str, Any]:
    """The chat request this Responses request amounts to, for the classifier only."""
    messages: list[dict[str, Any]] = []
    if isinstance(payload.get("instructions"), str):
        messages.append({"role": "system", "content": payload["instructions"]})
    items = payload.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        messages += [m for m in (_as_message(item) for item in items) if m is not None]
    view: dict[str, Any] = {"messages": messages, "tools": payload.get("tools")}
    view["max_tokens"] = payload.get("max_output_tokens")
    return view


def _as_message(item: object) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        return None
    if item.get("type") == "function_call_output":
        output = item.get("output")
        return {"role": "tool", "content": output if isinstance(output, str) else ""}
    role, content = item.get("role"), item.get("content")
    if not isinstance(role, str):
        return None
    if isinstance(content, list):
        content = [_as_part(part) for part in content if isinstance(part, dict)]
    return {"role": role, "content": content if isinstance(content, str | list) else ""}


def _as_part(part: dict[str, Any]) -> dict[str, Any]:
    kind = _PART_TYPES.get(str(part.get("type")), str(part.get("type")))
    if kind == "text":
        return {"type": "text", "text": part.get("text")}
    return {"type": kind}
