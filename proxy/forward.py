"""Sends one request to one upstream server and relays its answer: the proxy's only network client.

Streams are relayed chunk by chunk as they arrive (`aiter_raw`), never buffered. An upstream
error status passes through with its body. If the upstream breaks after bytes of a stream
have reached the client, the stream ends with an OpenAI-shaped error event and `[DONE]`, so a
client sees why it stopped rather than a silently cut stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
from fastapi.responses import Response, StreamingResponse

from proxy.errors import UnavailableError

# Hop-by-hop and length headers are the relay's own business, not the upstream's.
_DROP_HEADERS = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "content-encoding",
        "date",
        "server",
    }
)


class UpstreamUnreachableError(UnavailableError):
    code = "upstream_unreachable"


class UpstreamRefusedError(UpstreamUnreachableError):
    """No connection was made, so nothing was sent: always safe to try again elsewhere."""


async def forward(
    client: httpx.AsyncClient,
    url: str,
    payload: bytes,
    headers: dict[str, str],
) -> Response:
    request = client.build_request(
        "POST", url, content=payload, headers={"content-type": "application/json"}
    )
    try:
        upstream = await client.send(request, stream=True)
    except httpx.ConnectError as exc:
        raise UpstreamRefusedError(f"upstream {url} refused the connection: {exc}") from exc
    except httpx.HTTPError as exc:
        raise UpstreamUnreachableError(
            f"upstream {url} failed before answering: {type(exc).__name__}: {exc}"
        ) from exc
    relayed = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP_HEADERS}
    relayed.update(headers)
    content_type = upstream.headers.get("content-type", "")
    if upstream.status_code == 200 and content_type.startswith("text/event-stream"):
        return StreamingResponse(
            _relay(upstream), status_code=200, headers=relayed, media_type="text/event-stream"
        )
    try:
        body = await upstream.aread()
    except httpx.HTTPError as exc:
        raise UpstreamUnreachableError(f"upstream {url} broke while answering: {exc}") from exc
    finally:
        await upstream.aclose()
    return Response(body, status_code=upstream.status_code, headers=relayed)


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        yield _stream_error(f"upstream stream broke: {type(exc).__name__}: {exc}")
    finally:
        await upstream.aclose()


def _stream_error(message: str) -> bytes:
    error = {
        "error": {
            "message": message,
            "type": "server_error",
            "param": None,
            "code": "upstream_stream_error",
        }
    }
    return f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode()
