"""Which server holds each Responses API response the proxy relayed.

vLLM keeps a stored response (and the conversation behind it) in the memory of the server
process that made it, so `GET /v1/responses/{id}`, its cancel and a later request's
`previous_response_id` mean something only to that process: sent anywhere else they would get
a 404, or worse, a fresh answer from another model with none of the conversation. The proxy
learns each id as the answer passes (the JSON body's `id`; a stream's first event,
`response.created`, carries it) and keeps, per id, the server and which process of it
(pid and start time). Memory is bounded: at most `remember` ids, each for `ttl` seconds,
the oldest forgotten first. Per proxy: two proxies in front of one supervisor do not share
it (a client keeps to one proxy, or the balancer pins it).
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response, StreamingResponse

from modelyard_config.proxy import ResponseMemory

# A stream's first event holds the response object; its first "id" is the response's. Looked
# for in the first bytes only, so a stream costs no more than one bounded search.
_STREAM_ID = re.compile(rb'"id"\s{0,16}:\s{0,16}"(resp[A-Za-z0-9_-]{1,124})"')
SCAN_BYTES = 64 * 1024
_OVERLAP = 256  # longer than `"id": "resp..."` with any spacing the pattern allows


@dataclass(frozen=True)
class Holder:
    server: str
    instance: str | None  # the process that stored it (backends.instance_of)


class ResponseIds:
    def __init__(self, settings: ResponseMemory, clock: Callable[[], float] = time.monotonic):
        self.limit = settings.remember
        self.ttl = settings.ttl
        self.clock = clock
        self._held: OrderedDict[str, tuple[Holder, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def remember(self, response_id: str, holder: Holder) -> None:
        if self.limit == 0:
            return
        self._held[response_id] = (holder, self.clock() + self.ttl)
        self._held.move_to_end(response_id)
        while len(self._held) > self.limit:
            self._held.popitem(last=False)

    def holder(self, response_id: str) -> Holder | None:
        """Who holds `response_id`; None when it never passed here, or is forgotten."""
        found = self._held.get(response_id)
        if found is None:
            return None
        if found[1] <= self.clock():
            del self._held[response_id]
            return None
        return found[0]

    def learn(self, response: Response, holder: Holder) -> None:
        """Remember the id of a created response as it goes to the client."""
        if response.status_code != 200:
            return
        if isinstance(response, StreamingResponse):
            response.body_iterator = self._tapped(response.body_iterator, holder)
            return
        try:
            body: Any = json.loads(bytes(response.body))
        except ValueError:
            return
        response_id = body.get("id") if isinstance(body, dict) else None
        if isinstance(response_id, str) and len(response_id) <= 128:
            self.remember(response_id, holder)

    async def _tapped(self, chunks: AsyncIterable[Any], holder: Holder) -> AsyncIterator[Any]:
        seen: bytes | None = b""
        async for chunk in chunks:
            if seen is not None:
                # only the new bytes, and enough before them for an id split across chunks:
                # each byte is searched about once, however small the chunks
                start = max(0, len(seen) - _OVERLAP)
                seen += chunk if isinstance(chunk, bytes) else str(chunk).encode()
                found = _STREAM_ID.search(seen, start)
                if found is not None:
                    self.remember(found.group(1).decode(), holder)
                    seen = None
                elif len(seen) > SCAN_BYTES:
                    seen = None
            yield chunk
