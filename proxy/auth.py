"""API keys: a request passes when no keys are configured, or it carries one of them."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from proxy.errors import AuthenticationError


def authenticate(keys: frozenset[str], request: Request) -> None:
    if not keys:
        return
    header = request.headers.get("authorization", "")
    # Compared as bytes: compare_digest refuses non-ASCII str (a client's stray byte must be a
    # 401, not a 500), and a constant-time compare says nothing of the right keys by its time.
    given = header[7:].encode("latin-1") if header.startswith("Bearer ") else None
    if given is None or not any(hmac.compare_digest(given, key.encode()) for key in keys):
        raise AuthenticationError(
            "Missing or invalid API key: send 'Authorization: Bearer KEY' with one of the keys "
            "in proxy.api_keys."
        )
