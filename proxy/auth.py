"""Which key a request carries: `Authorization: Bearer KEY` (openai_wire.bearer reads it)."""

from __future__ import annotations

from openai_wire.bearer import bearer
from proxy.errors import AuthenticationError
from proxy.keys import Key, KeySet


def authenticate(keys: KeySet, header: bytes | None) -> Key:
    """The key the Authorization header names, or AuthenticationError."""
    presented = bearer(header) if header is not None else None
    key = keys.match(presented) if presented is not None else None
    if key is None:
        raise AuthenticationError(
            "Missing or invalid API key: send 'Authorization: Bearer KEY' with one of the "
            "proxy's API keys."
        )
    return key
