"""The credentials of `Authorization: Bearer X`, as OpenAI's clients send them and as the
proxy's keys and the admin API's token are both read: the scheme in any case (RFC 9110 calls
it case-insensitive; clients differ) and spaces around either part tolerated."""

from __future__ import annotations

import hashlib
import hmac


def bearer(header: bytes) -> bytes | None:
    """As bytes: a stray non-ASCII byte from a client is then a credential that matches
    nothing (a 401), never an error of our own (a 500)."""
    scheme, _, credentials = header.strip().partition(b" ")
    credentials = credentials.strip()
    if scheme.lower() != b"bearer" or not credentials:
        return None
    return credentials


def digest(secret: bytes) -> bytes:
    """What is kept of a secret and compared: 32 bytes whatever its length, so a comparison's
    time says nothing of the secret's length either."""
    return hashlib.sha256(secret).digest()


def same(a: bytes, b: bytes) -> bool:
    """Constant-time, on digests."""
    return hmac.compare_digest(a, b)
