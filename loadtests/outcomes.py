"""What became of one request, judged from its status, headers and body: served, refused by
design, or failed. Standard library only (it runs inside locust's venv too).

Refused by design: a 429 (a key over its limits), and a 503 that tells the client to come back
(`capacity_unavailable`: no memory to start a server within `queue_timeout`; `draining`: the
proxy is shutting down; any 503 with a `Retry-After`). Those are the proxy doing its job and
are counted apart from errors. A stream that ends with an OpenAI error event and `[DONE]` is a
`stream_error`: the designed end of a stream whose server died after its first byte, which the
soak counts as designed only when a fault it injected explains it (loadtests/soak_report.py).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["ok", "designed", "failed", "stream_error"]
DESIGNED_CODES = frozenset({"capacity_unavailable", "draining"})


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    detail: str = ""  # why, when not ok: "503 all_candidates_failed", "no choices"


def judge(expect: str, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
    """`headers` with lower-case names."""
    if status == 0:
        return Verdict("failed", "no response (connection failed)")
    if status != 200:
        return _refusal(status, headers, body)
    if expect == "stream":
        return _stream(body)
    if expect == "audio":
        audio = headers.get("content-type", "").startswith("audio/")
        return Verdict("ok") if audio and body else Verdict("failed", "no audio in the answer")
    try:
        answer = json.loads(body)
    except ValueError:
        return Verdict("failed", "answer is not JSON")
    return Verdict("ok") if _has_shape(expect, answer) else Verdict("failed", f"not a {expect}")


def _has_shape(expect: str, answer: Any) -> bool:
    if not isinstance(answer, dict):
        return False
    if expect == "chat":
        choices = answer.get("choices")
        return isinstance(choices, list) and bool(choices) and "message" in choices[0]
    if expect == "embedding":
        data = answer.get("data")
        return isinstance(data, list) and bool(data) and "embedding" in data[0]
    if expect == "rerank":
        return isinstance(answer.get("results"), list)
    if expect == "transcript":
        return isinstance(answer.get("text"), str)
    if expect == "route":
        return "intent" in answer and "route" in answer
    return False


def error_code(body: bytes) -> str:
    try:
        error = json.loads(body).get("error", {})
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or error.get("type") or "") if isinstance(error, dict) else ""


def _refusal(status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
    code = error_code(body)
    detail = f"{status} {code}".strip()
    if status == 429:
        return Verdict("designed", detail)
    if status == 503 and (code in DESIGNED_CODES or "retry-after" in headers):
        return Verdict("designed", detail)
    return Verdict("failed", detail)


def _stream(body: bytes) -> Verdict:
    events = [
        line[5:].strip()
        for line in body.decode("utf-8", errors="replace").splitlines()
        if line.startswith("data:")
    ]
    if not events or events[-1] != "[DONE]":
        return Verdict("failed", f"stream cut after {len(events)} events, no [DONE]")
    for event in events[:-1]:
        try:
            chunk = json.loads(event)
        except ValueError:
            return Verdict("failed", "stream event is not JSON")
        if isinstance(chunk, dict) and "error" in chunk:
            return Verdict("stream_error", f"stream error event {error_code(event.encode())}")
    if len(events) < 2:
        return Verdict("failed", "stream had no chunk before [DONE]")
    return Verdict("ok")


Hop = tuple[str, str, str]  # from, to, why the first was left


def hops(tried: str) -> list[Hop]:
    """The fallbacks in an `x-modelyard-tried` header ("a:connect,a:5xx,b:ok"): each move from
    one server to the next, with the outcome of the last try on the one left. Server names
    may hold ':' themselves, so each entry splits at its last one."""
    attempts = [entry.rsplit(":", 1) for entry in tried.split(",") if ":" in entry]
    moves: list[Hop] = []
    for (server, outcome), (following, _) in itertools.pairwise(attempts):
        if following != server:
            moves.append((server, following, outcome))
    return moves
