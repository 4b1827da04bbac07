"""A request's body read within `proxy.limits`: never more bytes than the limit, never longer
than the client's pauses and total time allow, and JSON never deeper than `json_depth`.

- Size: a declared Content-Length over the limit is refused before a byte is read; a chunked
  body is counted as it arrives and refused (413) at the chunk that crosses the limit, the
  rest left unread.
- Time: a body whose next chunk does not come within `body_idle_timeout`, or that is not
  whole within `body_timeout`, is a 408, so a slow client cannot hold a request open.
- JSON: malformed bytes, a number too long to convert and nesting deep enough to exhaust
  the parser's recursion are each a 400; the nesting of what parsed is then measured without
  recursion and refused past `json_depth`, so nothing downstream (the classifier, json.dumps
  of the body sent on) meets a structure deep enough to recurse out.

Every refusal names the limit's key (`proxy.limits.json_body_bytes`) so an operator knows
what to raise. The audio upload (audio_form.py) reads its multipart body through the same
bounded stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request

from modelyard_config.limits import Limits
from proxy.errors import BadRequestError, PayloadTooLargeError, RequestTimeoutError

# Over this, JSON is parsed in a worker thread, not on the event loop that relays every other
# stream. Measured: 1 MiB of base64 parses in ~8 ms, 32 MiB in ~95 ms, 29 MB of 1.4 million
# small objects in ~1.3 s (and ~0.9 s more to measure their depth); the hop costs well under
# a millisecond, nothing beside those, but many times a small body's 6 us parse.
THREAD_PARSE_BYTES = 2**20
_JSON_BYTES = "proxy.limits.json_body_bytes"


async def read_json(request: Request, limits: Limits) -> dict[str, Any]:
    """The request's body as a JSON object, read and parsed within `limits`."""
    body = BoundedBody(request, limits, limits.json_body_bytes, _JSON_BYTES)
    try:
        raw = await body.next()
        if body.more:  # more than one message: most small bodies are one
            chunks = [raw]
            while chunk := await body.next():
                chunks.append(chunk)
            raw = b"".join(chunks)
    finally:
        body.close()
    if len(raw) > THREAD_PARSE_BYTES:
        return await asyncio.to_thread(parse_json, raw, limits.json_depth)
    return parse_json(raw, limits.json_depth)


async def bounded_stream(
    request: Request, limits: Limits, max_bytes: int, key: str, param: str | None = None
) -> AsyncGenerator[bytes, None]:
    """The body's chunks as Starlette's form parser takes them, within the limits."""
    body = BoundedBody(request, limits, max_bytes, key, param)
    try:
        while chunk := await body.next():
            yield chunk
    finally:
        body.close()


class BoundedBody:
    """One request's body, chunk by chunk: a 413 naming `key` (and `param`) as soon as the
    chunks add up to more than `max_bytes`, a 408 when the client pauses or dawdles too long.

    Reads the ASGI messages itself rather than through `request.stream()`: the handler is the
    body's only reader, and a small body is one message, so one receive where Starlette's
    stream takes three turns of an async generator. Reading and parsing a small chat body
    costs ~25 us against ~18 us for `request.body()` and json.loads (best of 15 rounds of
    3,000), the one timer per body most of the difference.
    """

    def __init__(
        self, request: Request, limits: Limits, max_bytes: int, key: str, param: str | None = None
    ) -> None:
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise _too_large(max_bytes, key, param)
        self._receive = request.receive
        self._max_bytes, self._key, self._param = max_bytes, key, param
        self._received = 0
        self.more = True  # the client has more to send
        self._deadlines = _Deadlines(limits)

    async def next(self) -> bytes:
        """The next chunk of the body; b"" once it is all in."""
        while self.more:
            self._deadlines.wait_begins()
            try:
                message = await self._receive()
            except asyncio.CancelledError:
                if not self._deadlines.passed():
                    raise
                raise self._deadlines.error() from None
            finally:
                self._deadlines.since = None
            if message["type"] != "http.request":  # http.disconnect
                raise BadRequestError("The client closed the connection mid-body.")
            self.more = message.get("more_body", False)
            chunk: bytes = message.get("body", b"")
            self._received += len(chunk)
            if self._received > self._max_bytes:
                raise _too_large(self._max_bytes, self._key, self._param)
            if chunk:
                return chunk
        return b""

    def close(self) -> None:
        self._deadlines.timer.cancel()


class _Deadlines:
    """The idle and overall deadlines of one body, on one timer per body: a timeout context
    around each chunk's wait tripled a small body's read (35 to 105 us).

    The timer cancels the reading task only while it waits for the client's next chunk, never
    while the consumer runs (Starlette's parser writing a spooled file): idle time is the
    client's silence, not the proxy's work."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        now = self.loop.time()
        self.end = now + limits.body_timeout
        self.since: float | None = None  # when the wait for the next chunk began; None: not waiting
        self.kind: str | None = None  # the deadline that passed: "idle" or "overall"
        self.timer = self.loop.call_at(min(now + limits.body_idle_timeout, self.end), self._check)

    def wait_begins(self) -> None:
        self.since = self.loop.time()
        if self.since >= self.end:  # the consumer's own time ran the clock out
            self.kind = "overall"
            raise self.error()

    def _check(self) -> None:
        now = self.loop.time()
        if self.since is None:  # the consumer is busy: look again later
            self.timer = self.loop.call_at(now + self.limits.body_idle_timeout, self._check)
            return
        due = min(self.since + self.limits.body_idle_timeout, self.end)
        if now < due:
            self.timer = self.loop.call_at(due, self._check)
            return
        self.kind = "idle" if due < self.end else "overall"
        if self.task is not None:
            self.task.cancel()

    def passed(self) -> bool:
        """Whether a cancellation while waiting was ours (and nobody else's too)."""
        return self.kind is not None and self.task is not None and self.task.uncancel() == 0

    def error(self) -> RequestTimeoutError:
        if self.kind == "idle":
            return RequestTimeoutError(
                f"The request body stopped arriving: nothing for "
                f"{self.limits.body_idle_timeout:g} s (proxy.limits.body_idle_timeout)."
            )
        return RequestTimeoutError(
            f"The request body took longer than {self.limits.body_timeout:g} s to arrive "
            "(proxy.limits.body_timeout)."
        )


def parse_json(raw: bytes, max_depth: int) -> dict[str, Any]:
    """`raw` as a JSON object no deeper than `max_depth`, or a 400 that says why not."""
    try:
        payload = json.loads(raw)
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an over-long integer
        raise BadRequestError(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(payload, dict):
        raise BadRequestError("The request body must be a JSON object.")
    # Nothing can nest deeper than it has brackets: most bodies are measured by two counts.
    if raw.count(b"[") + raw.count(b"{") > max_depth and too_deep(payload, max_depth):
        raise _too_deep(max_depth)
    return payload


def too_deep(value: object, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` deep in `value` (a bare object is
    1 deep). Level by level, so a value of any depth is measured without recursion; 0.9 s
    for 29 MB of 1.4 million small objects, against json.loads' 1.3 s to make them."""
    level: list[Any] = [value] if type(value) is dict or type(value) is list else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below = []
        for node in level:
            for child in node.values() if type(node) is dict else node:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
        depth += 1
    return False


def _too_large(max_bytes: int, key: str, param: str | None) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body is over {_size(max_bytes)}, the limit set by {key}.", param=param
    )


def _too_deep(max_depth: int) -> BadRequestError:
    return BadRequestError(
        f"The request body nests objects and arrays more than {max_depth} deep, the limit "
        "set by proxy.limits.json_depth."
    )


def _size(n: int) -> str:
    return f"{n / 2**20:g} MiB" if n >= 2**20 else f"{n / 1024:g} KiB"
