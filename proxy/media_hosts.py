"""Which hosts the proxy fetches media from: the URL check and the resolver that guard every
connection the media reader makes.

A URL is parsed once, by yarl (the parser aiohttp itself uses, so the host checked is the
host dialled), and refused when it is malformed (a bad port, no host, credentials, control
characters, a non-ASCII host) or when its host is written as a number in any form but the
canonical dotted quad (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`): those are read
differently by different resolvers.

Unless `proxy.fetch_private_media` is set, an address that is not globally reachable is
refused: loopback, private, link-local, unspecified, and IPv6 forms that carry such an IPv4
address (mapped `::ffff:127.0.0.1`, NAT64, 6to4). An IP literal is checked here; a name is
checked by `GuardedResolver`, the media session's resolver: it resolves once, refuses if any
answer is refused, and hands aiohttp exactly the addresses it checked. So a name that answers
a public address to the check and loopback to the connection (DNS rebinding) cannot get
through, and every redirect hop is checked the same way.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
HOST_NAME = re.compile(r"[a-z0-9_.-]+")
NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


class UnfitUrlError(ValueError):
    """A URL the proxy does not fetch; the message says why, in a phrase."""


class RefusedAddressError(OSError):
    """A name resolved to an address the proxy does not fetch from. An OSError, so aiohttp's
    connector reports it as the failed lookup it is (ClientConnectorDNSError)."""


def checked_url(url: str, allow_private: bool) -> URL:
    """The URL as aiohttp will dial it, or UnfitUrlError."""
    if UNSAFE_CHARS.search(url):
        raise UnfitUrlError("has a control character, a space or a backslash")
    try:
        parsed = URL(url)
        port = parsed.port
    except (ValueError, TypeError) as exc:
        raise UnfitUrlError(f"is not a valid URL ({exc})") from exc
    if parsed.scheme not in ("http", "https"):
        raise UnfitUrlError("must be a data: or http(s) URL")
    host = parsed.raw_host
    if not host:
        raise UnfitUrlError("names no host")
    if parsed.raw_user is not None or parsed.raw_password is not None or "@" in parsed.authority:
        raise UnfitUrlError("carries credentials, which the proxy does not send")
    if not port:
        raise UnfitUrlError("has port 0")
    if not urlsplit(url).netloc.isascii():  # yarl would have turned it into punycode
        raise UnfitUrlError("has a non-ASCII host")
    address = _literal(host)
    if address is not None and not allow_private:
        why = refusal(address)
        if why is not None:
            raise UnfitUrlError(
                f"is a {why} address, which this proxy does not fetch from "
                "(proxy.fetch_private_media)"
            )
    return parsed


def refusal(address: IPAddress) -> str | None:
    """Why the proxy does not fetch from this address (a word for the message), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal(embedded)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if not address.is_global:
        return "private"
    return None


class GuardedResolver(AbstractResolver):
    """Resolves a name once and returns only addresses that pass `refusal`, so the address
    checked is the address aiohttp connects to. `resolver` is the lookup itself (aiohttp's
    threaded getaddrinfo by default)."""

    def __init__(self, allow_private: bool, resolver: AbstractResolver | None = None) -> None:
        self._allow_private = allow_private
        self._resolver = resolver or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._resolver.resolve(host, port, family)
        if not self._allow_private:
            for answer in found:
                why = refusal(ipaddress.ip_address(answer["host"].split("%", 1)[0]))
                if why is not None:
                    raise RefusedAddressError(
                        f"{host} resolves to {answer['host']}, a {why} address"
                    )
        return found

    async def close(self) -> None:
        await self._resolver.close()


def _literal(host: str) -> IPAddress | None:
    """The address an IP-literal host names; UnfitUrlError for a numeric host in any form but
    the canonical one (a WHATWG parser reads `127.1` as 127.0.0.1, a name lookup may not)."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise UnfitUrlError("has a malformed IPv6 host") from exc
    if not HOST_NAME.fullmatch(host):
        raise UnfitUrlError("has a host with characters no host name has")
    if not NUMERIC_LABEL.fullmatch(host.split(".")[-1]):
        return None
    try:
        address = ipaddress.IPv4Address(host)
    except ValueError:
        address = None
    if address is None or str(address) != host:
        raise UnfitUrlError("has a numeric host that is not a dotted-quad IPv4 address")
    return address


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None
