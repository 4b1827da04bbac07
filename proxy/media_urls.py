"""The bytes behind a media part's URL (`data:` or http(s)), for the degradations that need
them in the proxy: audio to transcribe, a video to cut into frames.

Fetching a URL a client names makes the proxy a client of whatever that URL points at. By
default an http(s) URL whose host resolves to a loopback, private or link-local address is
refused, and redirects are not followed (a public URL could redirect inward): otherwise any
caller could make the proxy read the supervisor's admin API or probe the box's network.
`proxy.fetch_private_media: true` lifts that, for media served from the same network.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import socket
from urllib.parse import urlsplit

import aiohttp

from proxy.errors import BadRequestError, PayloadTooLargeError


class MediaReader:
    """Reads the media a request names, for the degradations; built once per proxy with its
    HTTP session and the config's `fetch_private_media`, and handed to whoever needs media."""

    def __init__(self, session: aiohttp.ClientSession, allow_private: bool) -> None:
        self._session = session
        self._allow_private = allow_private

    async def read(self, url: object, where: str, limit: int) -> bytes:
        """The bytes behind a `data:` or http(s) URL, at most `limit`; `where` is the param
        path a 400 names (`messages[0].content[1]`)."""
        if not isinstance(url, str):
            raise BadRequestError(f"'{where}' needs a URL.", param=where)
        if url.startswith("data:") and "," in url:
            data = decode_base64(url.split(",", 1)[1], where)
        elif url.startswith(("http://", "https://")):
            if not self._allow_private:
                await _refuse_private(url, where)
            data = await _fetch(self._session, url, where, limit, follow=self._allow_private)
        else:
            raise BadRequestError(f"'{where}' must be a data: or http(s) URL.", param=where)
        if len(data) > limit:
            raise PayloadTooLargeError(
                f"'{where}' is over {limit // 2**20} MB, the limit for media handled here.", where
            )
        return data


def decode_base64(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError(f"'{where}' is not valid base64: {exc}.", param=where) from exc


async def _fetch(
    session: aiohttp.ClientSession, url: str, where: str, limit: int, follow: bool
) -> bytes:
    try:
        async with session.get(url, allow_redirects=follow) as got:
            if got.status != 200:
                raise BadRequestError(f"'{where}': GET {url} answered {got.status}.", where)
            return await got.content.read(limit + 1)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BadRequestError(f"'{where}': cannot fetch {url}: {exc}.", where) from exc


async def _refuse_private(url: str, where: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise BadRequestError(f"'{where}': cannot resolve {host!r}: {exc}.", where) from exc
    for *_, sockaddr in found:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise BadRequestError(
                f"'{where}': {host} is a {'loopback' if address.is_loopback else 'private'} "
                "address, which this proxy does not fetch from (proxy.fetch_private_media).",
                param=where,
            )
