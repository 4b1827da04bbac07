"""API keys: a request passes when no keys are configured, or it carries one of them."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from proxy.errors import AuthenticationError


def authenticate(keys: frozenset[str], request: Request) -> None:
    if not keys:
        return
    header = request.headers.get("authorization", "")
    given = header[7:] if header.startswith("Bearer ") else None
    # compare_digest for each key: how long a wrong key takes says nothing of the right ones
    if given is None or not any(hmac.compare_digest(given, key) for key in keys):
        raise AuthenticationError(
            "Missing or invalid API key: send 'Authorization: Bearer KEY' with one of the keys "
            "in proxy.api_keys."
        )
