"""How hard the proxy tries one server, and when it stops trying it for a while.

Used by the `proxy` section (the default and per-route policies) and by servers (their own).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard_config.fields import Seconds, Strict

RetryOn = Literal["connect", "timeout", "5xx", "429"]


class RetryPolicy(Strict):
    """How hard to try one server before moving down the chain."""

    attempts: Annotated[int, Field(ge=1)] = 2  # tries on one server, the first included
    backoff_initial: Seconds = 0.1
    backoff_max: Seconds = 2.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.5  # +- this fraction of each wait
    retry_on: list[RetryOn] = ["connect", "timeout", "5xx", "429"]
    # Give up on a server that sends no byte (headers and first chunk) within this long.
    first_byte_timeout: Seconds | None = None


class CooldownSettings(Strict):
    """The circuit breaker: a server that fails `failures` times within `window` seconds is
    skipped for `period` seconds, then let through once (half-open) to prove itself."""

    failures: Annotated[int, Field(ge=1)] = 3
    window: Seconds = 30.0
    period: Seconds = 30.0
