"""Each request's id and its one log line: a pure-ASGI middleware, outermost in the proxy's app.

The id is the client's `x-request-id` when that is a sane token (1 to 128 of `[A-Za-z0-9._-]`),
else 32 fresh random hex digits. The handlers read it from the scope (`request_id`) and send it
upstream; every response carries it back as `x-request-id` (errors and streams too, replacing
any the upstream sent), and the request's line on the `modelyard.proxy` logger ends with it:

    POST /v1/chat/completions 200 812.4 ms model=qwen-a route=agent request_id=9f0c...

The time runs to the last byte of the body (a stream's too); model and route are the
`x-modelyard-model` and `-route` the response carried. Never a body, a query string or a key.
The same facts, with the intent, language, tried and degraded headers, go to the status page's
ring of recent requests (proxy/recent.py) when one is given, and an API request's endpoint,
route, status and time to the proxy's metrics (modelyard_requests_total,
modelyard_request_seconds, modelyard_requests_in_flight) when they are given.

Pure ASGI, not BaseHTTPMiddleware, which runs the app in a task of its own and passes a
stream through a memory channel. A bug the app did not answer still gets its id: the last
resort answer (dialects.handle_unexpected, in the shape of the path's API) is sent from
here, inside Starlette's ServerErrorMiddleware, which then only re-raises.
"""

from __future__ import annotations

import logging
import os
import re
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy.dialects import handle_unexpected
from proxy.metrics import ProxyMetrics
from proxy.recent import Entry, RecentRequests, cut, worth_keeping

log = logging.getLogger("modelyard.proxy")

HEADER = b"x-request-id"
_SCOPE_KEY = "modelyard.request_id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,128}")
_POLL = "/ui/api/state"
# the response headers a request's line and its row on the status page read, by slot
_SLOTS = {
    b"x-modelyard-model": 0,
    b"x-modelyard-route": 1,
    b"x-modelyard-intent": 2,
    b"x-modelyard-language": 3,
    b"x-modelyard-tried": 4,
    b"x-modelyard-degraded": 5,
}


def request_id(request: Request) -> str | None:
    """The id RequestLog gave this request (None in an app without it)."""
    said: str | None = request.scope.get(_SCOPE_KEY)
    return said


def _id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == HEADER:
            if _SANE.fullmatch(value):
                return value.decode("ascii")
            break
    return os.urandom(16).hex()  # uuid4().hex's randomness at a seventh of its cost


class _Answer:
    """What the response said, as far as the log line and the ring need it."""

    __slots__ = ("said", "status")

    def __init__(self) -> None:
        self.status = 0  # none sent (the client went away first)
        self.said: list[str | None] = [None] * len(_SLOTS)


class RequestLog:
    def __init__(
        self,
        app: ASGIApp,
        recent: RecentRequests | None = None,
        metrics: ProxyMetrics | None = None,
    ) -> None:
        self.app = app
        self.recent = recent if recent is not None and recent.size else None
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        arrived = time.time()
        rid = _id_of(scope["headers"])
        scope[_SCOPE_KEY] = rid
        stamp = rid.encode("ascii")
        answer = _Answer()
        api = worth_keeping(scope["path"])  # a request the ring and the metrics count
        metrics = self.metrics if api else None
        if metrics is not None:
            metrics.in_flight.inc()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(HEADER, stamp)]
                said = answer.said
                for name, value in message.get("headers", ()):
                    slot = _SLOTS.get(name)
                    if slot is not None:
                        said[slot] = value.decode("latin-1")
                    elif name == HEADER:
                        continue  # ours is the one id: an upstream's own goes
                    headers.append((name, value))
                answer.status = message["status"]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if not answer.status:
                response = await handle_unexpected(Request(scope), exc)
                await response(scope, receive, send_with_id)
            raise
        finally:
            path = scope["path"]
            if not path.isprintable():  # a %0A in the URL must not forge a log line
                path = repr(path)
            ms = (time.perf_counter() - began) * 1000
            model, route, intent, language, tried, degraded = answer.said
            if metrics is not None:
                metrics.in_flight.dec()
                metrics.answered(path, route, answer.status, ms / 1000)
            # an open status page polls every second: its polls only at DEBUG (its actions,
            # like every other request, at INFO)
            log.log(
                logging.DEBUG if path == _POLL else logging.INFO,
                "%s %s %d %.1f ms model=%s route=%s request_id=%s",
                scope["method"],
                path,
                answer.status,
                ms,
                model or "-",
                route or "-",
                rid,
            )
            if self.recent is not None and api:
                self.recent.add(
                    Entry(
                        arrived,
                        rid,
                        scope["method"],
                        cut(path) or "",
                        answer.status,
                        ms,
                        cut(model),
                        cut(route),
                        cut(intent),
                        cut(language),
                        cut(tried),
                        cut(degraded),
                    )
                )
