"""Sends one request to one upstream server and relays its answer: the proxy's only network client.

aiohttp rather than httpx for this one hop: on this 2-core box it answered the same 16-token
completion 1.4 ms sooner per request (median of 280, bench in docs/benchmarks.md), and this
hop is on every request's path. A stream is handed over once its first chunk is in (so a
failure before any byte can still fall back), then relayed chunk by chunk as they arrive
(`iter_any`), never buffered, and bytes pass untouched (no decompression). An upstream error
status passes through with its body. If the upstream breaks after bytes of a stream have
reached the client, the stream ends with its API's error event (dialects.py: OpenAI's
`data:` error and `[DONE]`, the Responses API's or Anthropic's `event: error`), so a client
sees why it stopped rather than a silently cut stream.

Upstream go the request's routing headers (the TTS sidecar takes `x-modelyard-language` as
its hint) and its `x-request-id`, for the server's own logs; never the client's credentials
or cookies. The connect timeout bounds opening a socket (`sock_connect`), not aiohttp's
`connect`, which also counts the wait for a free connection in the pool: under load that
wait is the proxy's own queue, and a server must not be blamed for it. A first-byte deadline
that runs out while the request still waits in that queue is `UpstreamPoolFullError`
(reason `pool`), which no breaker counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
from starlette.responses import Response, StreamingResponse

from openai_wire.errors import UNAVAILABLE
from proxy.bodies import Outgoing
from proxy.dialects import OPENAI, Dialect
from proxy.errors import UnavailableError

# Hop-by-hop and framing headers are the relay's own business, not the upstream's.
_DROP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)
# What the upstream hears of the request besides its body: a closed list, so that nothing
# the client sent (Authorization, cookies) can leak through a header dict built upstream.
FORWARDED_HEADERS = (
    "x-modelyard-intent",
    "x-modelyard-language",
    "x-modelyard-route",
    "x-request-id",
)


class UpstreamUnreachableError(UnavailableError):
    """Nothing reached the client: safe to try again, here or down the chain."""

    fault = UNAVAILABLE.with_code("upstream_unreachable")
    reason = "connect"


class UpstreamRefusedError(UpstreamUnreachableError):
    """No connection was made, so nothing was sent: the remembered address may be stale."""


class UpstreamTimeoutError(UpstreamUnreachableError):
    reason = "timeout"


class UpstreamPoolFullError(UpstreamUnreachableError):
    """The deadline passed while waiting for a free connection in the proxy's own pool."""

    reason = "pool"


class _PoolWait:
    """One request's place in the connection pool's queue, kept by the session's trace."""

    __slots__ = ("queued",)

    def __init__(self) -> None:
        self.queued = False


async def _queued(session: Any, context: SimpleNamespace, params: Any) -> None:
    if isinstance(context.trace_request_ctx, _PoolWait):
        context.trace_request_ctx.queued = True


async def _dequeued(session: Any, context: SimpleNamespace, params: Any) -> None:
    if isinstance(context.trace_request_ctx, _PoolWait):
        context.trace_request_ctx.queued = False


def upstream_session(
    connect_timeout: float, request_timeout: float, pool_limit: int = 1000
) -> aiohttp.ClientSession:
    pool_queue = aiohttp.TraceConfig()
    pool_queue.on_connection_queued_start.append(_queued)
    pool_queue.on_connection_queued_end.append(_dequeued)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=pool_limit, enable_cleanup_closed=True),
        timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=request_timeout
        ),
        auto_decompress=False,
        trust_env=False,  # upstreams are on loopback: never through an HTTP proxy
        trace_configs=[pool_queue],
    )


async def forward(
    session: aiohttp.ClientSession,
    url: str,
    outgoing: Outgoing,
    headers: dict[str, str],
    first_byte_timeout: float | None = None,
    dialect: Dialect = OPENAI,
) -> Response:
    """The upstream's answer as a response for the client, with `headers` added (the routing
    ones, FORWARDED_HEADERS, also go upstream). A stream is returned only once its first
    chunk has arrived, so a failure before the first byte raises here (and the caller may
    fall back) instead of reaching the client as a broken stream."""
    upstream: aiohttp.ClientResponse | None = None
    sent = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
    if outgoing.content_type:
        sent["content-type"] = outgoing.content_type
    waiting = _PoolWait()
    try:
        async with asyncio.timeout(first_byte_timeout):
            upstream = await session.request(
                outgoing.method, url, data=outgoing.data, headers=sent, trace_request_ctx=waiting
            )
            streaming = upstream.status == 200 and upstream.content_type == "text/event-stream"
            first = await upstream.content.readany() if streaming else b""
    except BaseException as exc:
        if upstream is not None:
            upstream.close()
        if waiting.queued and isinstance(exc, TimeoutError):
            raise UpstreamPoolFullError(
                f"no free connection to {url} within {first_byte_timeout:g} s: the proxy's "
                "connection pool is full"
            ) from exc
        raise _before_answer(url, exc, first_byte_timeout) from exc
    relayed = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_HEADERS}
    relayed.update(headers)
    if streaming:
        if not first:  # closed before a single byte: nothing was sent, like a refusal
            upstream.close()
            raise UpstreamUnreachableError(f"upstream {url} closed the stream before any data")
        relay = _relay(upstream, first, dialect)
        return StreamingResponse(relay, status_code=200, headers=relayed)
    try:
        body = await upstream.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise UpstreamUnreachableError(f"upstream {url} broke while answering: {exc}") from exc
    finally:
        upstream.release()
    return Response(body, status_code=upstream.status, headers=relayed)


def _before_answer(url: str, exc: BaseException, first_byte_timeout: float | None) -> BaseException:
    """What a failure before any answer means for the caller; anything else (a cancelled
    request: the client went away) propagates as it is."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamRefusedError(f"upstream {url} refused the connection: {exc}")
    if isinstance(exc, TimeoutError):
        if first_byte_timeout:
            return UpstreamTimeoutError(f"upstream {url} sent nothing in {first_byte_timeout:g} s")
        return UpstreamTimeoutError(f"upstream {url} timed out before answering")
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamUnreachableError(
            f"upstream {url} failed before answering: {type(exc).__name__}: {exc}"
        )
    return exc


async def _relay(
    upstream: aiohttp.ClientResponse, first: bytes, dialect: Dialect
) -> AsyncIterator[bytes]:
    finished = False
    last = first
    try:
        yield first
        async for chunk in upstream.content.iter_any():
            last = chunk
            yield chunk
        finished = True
    except (TimeoutError, aiohttp.ClientError) as exc:
        ending = dialect.stream_error(
            f"upstream stream broke: {type(exc).__name__}: {exc}", "upstream_stream_error"
        )
        # a stream cut inside an event would swallow the error event's first line: end that
        # event first (an empty line), as the drain does
        yield ending if last.endswith(b"\n\n") else b"\n\n" + ending
    finally:
        # A finished stream returns its connection to the pool; a client that went away
        # closes it, so vLLM sees the disconnect and stops generating.
        if finished:
            upstream.release()
        else:
            upstream.close()
