"""Sends one request to one upstream server and relays its answer: the proxy's only network client.

aiohttp rather than httpx for this one hop: on this 2-core box it answered the same 16-token
completion 1.4 ms sooner per request (median of 280, bench in docs/benchmarks.md), and this
hop is on every request's path. A stream is handed over once its first chunk is in (so a
failure before any byte can still fall back), then relayed chunk by chunk as they arrive
(`iter_any`), never buffered, and bytes pass untouched (no decompression). An upstream error
status passes through with its body. If the upstream breaks after bytes of a stream have
reached the client, the stream ends with an OpenAI-shaped error event and `[DONE]`, so a
client sees why it stopped rather than a silently cut stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from starlette.responses import Response, StreamingResponse

from openai_wire.errors import UNAVAILABLE, stream_error
from proxy.bodies import Outgoing
from proxy.errors import UnavailableError

# Hop-by-hop and framing headers are the relay's own business, not the upstream's.
_DROP_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)


class UpstreamUnreachableError(UnavailableError):
    """Nothing reached the client: safe to try again, here or down the chain."""

    fault = UNAVAILABLE.with_code("upstream_unreachable")
    reason = "connect"


class UpstreamRefusedError(UpstreamUnreachableError):
    """No connection was made, so nothing was sent: the remembered address may be stale."""


class UpstreamTimeoutError(UpstreamUnreachableError):
    reason = "timeout"


def upstream_session(connect_timeout: float, request_timeout: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1000, enable_cleanup_closed=True),
        timeout=aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_read=request_timeout
        ),
        auto_decompress=False,
        trust_env=False,  # upstreams are on loopback: never through an HTTP proxy
    )


async def forward(
    session: aiohttp.ClientSession,
    url: str,
    outgoing: Outgoing,
    headers: dict[str, str],
    first_byte_timeout: float | None = None,
) -> Response:
    """The upstream's answer as a response for the client. A stream is returned only once its
    first chunk has arrived, so a failure before the first byte raises here (and the caller
    may fall back) instead of reaching the client as a broken stream."""
    upstream: aiohttp.ClientResponse | None = None
    try:
        async with asyncio.timeout(first_byte_timeout):
            sent = {"content-type": outgoing.content_type} if outgoing.content_type else None
            upstream = await session.post(url, data=outgoing.data, headers=sent)
            streaming = upstream.status == 200 and upstream.content_type == "text/event-stream"
            first = await upstream.content.readany() if streaming else b""
    except BaseException as exc:
        if upstream is not None:
            upstream.close()
        raise _before_answer(url, exc, first_byte_timeout) from exc
    relayed = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_HEADERS}
    relayed.update(headers)
    if streaming:
        if not first:  # closed before a single byte: nothing was sent, like a refusal
            upstream.close()
            raise UpstreamUnreachableError(f"upstream {url} closed the stream before any data")
        return StreamingResponse(_relay(upstream, first), status_code=200, headers=relayed)
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


async def _relay(upstream: aiohttp.ClientResponse, first: bytes) -> AsyncIterator[bytes]:
    finished = False
    try:
        yield first
        async for chunk in upstream.content.iter_any():
            yield chunk
        finished = True
    except (TimeoutError, aiohttp.ClientError) as exc:
        yield stream_error(
            f"upstream stream broke: {type(exc).__name__}: {exc}", "upstream_stream_error"
        )
    finally:
        # A finished stream returns its connection to the pool; a client that went away
        # closes it, so vLLM sees the disconnect and stops generating.
        if finished:
            upstream.release()
        else:
            upstream.close()
