"""The bytes behind a media part's URL (`data:` or http(s)), for the degradations that need
them in the proxy: audio to transcribe, a video to cut into frames.

Fetching a URL a client names makes the proxy a client of whatever that URL points at, so
the reader has an HTTP session of its own, whose resolver (media_hosts.GuardedResolver)
refuses loopback, private and link-local addresses unless `proxy.fetch_private_media` is
set: the address checked is the address dialled, at every redirect hop (at most
MAX_REDIRECTS). Every bound is in `proxy.limits`: a body is read in chunks and refused with a
413 as soon as it crosses the caller's limit (or at once, from a Content-Length over it), a
whole fetch (redirects and body) has `media_fetch_timeout`, and base64 is sized before it is
decoded.

A fetch that fails answers one message whatever the cause (refused, unreachable, timed out,
a 404): a client must not be able to use the proxy to tell a closed port from a filtered one
or from a server that answered. The cause goes to the proxy's log.

The reader also owns the threads that cut a video into frames (frames.FramePool), so that
everything the proxy does with a client's media lives, and is closed, in one place.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from modelyard_config.limits import Limits
from proxy.errors import BadRequestError, PayloadTooLargeError
from proxy.frames import FramePool
from proxy.media_hosts import GuardedResolver, UnfitUrlError, checked_url

log = logging.getLogger("modelyard.proxy")

FETCH_FAILED = "'{where}': could not fetch the media URL."
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 2**16


class FetchError(Exception):
    """Why a fetch failed, for the log; the client sees FETCH_FAILED."""


class MediaReader:
    """Reads the media a request names, for the degradations. Built once per proxy in the
    app's lifespan and closed with it (`async with`); `resolver` is the name lookup under the
    guard (the tests' DNS double; getaddrinfo by default)."""

    def __init__(
        self, limits: Limits, allow_private: bool, resolver: AbstractResolver | None = None
    ) -> None:
        self._limits = limits
        self._allow_private = allow_private
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(allow_private, resolver), use_dns_cache=False
        )
        # trust_env off: an HTTP_PROXY from the environment would be dialled instead of the
        # checked address
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        self._frames = FramePool(limits)

    async def __aenter__(self) -> MediaReader:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._frames.close()
        await self._session.close()

    async def read(self, url: object, where: str, limit: int) -> bytes:
        """The bytes behind a `data:` or http(s) URL, at most `limit`; `where` is the param
        path a 400 names (`messages[0].content[1]`)."""
        if not isinstance(url, str):
            raise BadRequestError(f"'{where}' needs a URL.", param=where)
        if url.startswith("data:") and "," in url:
            return decode_base64(url.partition(",")[2], where, limit)
        try:
            target = checked_url(url, self._allow_private)
        except UnfitUrlError as exc:
            raise BadRequestError(f"'{where}' {exc}.", param=where) from exc
        try:
            async with asyncio.timeout(self._limits.media_fetch_timeout):
                return await self._fetch(target, where, limit)
        except (FetchError, aiohttp.ClientError, TimeoutError, UnfitUrlError) as exc:
            log.info("%s: fetching %s failed: %s", where, url, _detail(exc))
            raise BadRequestError(FETCH_FAILED.format(where=where), param=where) from exc

    async def video_frames(self, url: object, where: str, count: int) -> list[bytes]:
        """`count` evenly spaced frames of the video behind `url`, as PNGs, within the
        video bounds of `proxy.limits`."""
        video = await self.read(url, where, self._limits.media_bytes)
        return await self._frames.sample(video, count, where)

    async def _fetch(self, url: URL, where: str, limit: int) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            async with self._session.get(url, allow_redirects=False) as got:
                location = got.headers.get("Location")
                if got.status in REDIRECTS and location:
                    url = checked_url(str(url.join(URL(location))), self._allow_private)
                    continue
                if got.status != 200:
                    raise FetchError(f"{url} answered {got.status}")
                return await _body(got, where, limit)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def decode_base64(data: str, where: str, limit: int) -> bytes:
    """The bytes `data` encodes, refused with a 413 before decoding when they would be over
    `limit`: valid base64 (no whitespace) decodes to exactly 3/4 of its unpadded length."""
    padding = len(data[-2:]) - len(data[-2:].rstrip("="))
    if (len(data) - padding) * 3 // 4 > limit:
        raise _too_large(where, limit)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError(f"'{where}' is not valid base64: {exc}.", param=where) from exc


async def _body(got: aiohttp.ClientResponse, where: str, limit: int) -> bytes:
    if got.content_length is not None and got.content_length > limit:
        raise _too_large(where, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in got.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise _too_large(where, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(where: str, limit: int) -> PayloadTooLargeError:
    size = f"{limit / 2**20:g} MiB" if limit >= 2**20 else f"{limit} bytes"
    return PayloadTooLargeError(
        f"'{where}' is over {size}, the limit for this media (proxy.limits).", param=where
    )


def _detail(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out (proxy.limits.media_fetch_timeout)"
    return f"{type(exc).__name__}: {exc}"
