"""Who may call the proxy: API keys (from the config, an environment variable or a keys
file) and each key's rate and concurrency limits.

A key is a plain string, or an object with its own limits; `key_limits` applies to keys
without their own. With no key from any source the proxy is open, and says so at start.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelyard_config.fields import Strict

PerMinute = Annotated[int, Field(ge=1)]


class KeyLimits(Strict):
    """None: unlimited. Over either: 429 in OpenAI's shape with Retry-After."""

    requests_per_minute: PerMinute | None = None
    max_concurrent: Annotated[int, Field(ge=1)] | None = None


class ApiKey(KeyLimits):
    key: Annotated[str, Field(min_length=8)]
    name: str | None = None  # shown in logs and metrics instead of the key


class AccessSettings(Strict):
    keys: list[Annotated[str, Field(min_length=8)] | ApiKey] = []
    # More keys, one per line (`KEY` or `KEY name rpm=N concurrent=N`), from a file and from
    # an environment variable (comma- or newline-separated); read at start.
    keys_file: str | None = None
    keys_env: str = "MODELYARD_API_KEYS"
    key_limits: KeyLimits = KeyLimits()
    # /v1/* and /route always need a key when there are keys; /metrics only if this is set.
    metrics_need_key: bool = False
