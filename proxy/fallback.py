"""Serving one request down its chain: retries on a server, then the next candidate, with a
circuit breaker per server. The policy lives in retry.py; this is where it meets the network.

Every attempt is counted (`modelyard_attempts_total`), every move down the chain too
(`modelyard_fallbacks_total{from,to,reason}`), and the response says what happened:
`x-modelyard-attempts` (how many tries) and `x-modelyard-tried` (`server:outcome`, in order).
When no candidate can serve, the client gets a 503 that names every try.

Only the server's own failures count against its breaker (retry.blames_server). A remembered
address that fails to connect is `stale`: the supervisor is asked again and the request sent
at once, not held against the server. A half-open trial is given back however `send` ends
(cancelled with its client, or an error nobody expected), so no server stays skipped for good.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from starlette.responses import Response

from modelyard_config import Config
from openai_wire.errors import CAPACITY_UNAVAILABLE, UNAVAILABLE
from proxy.backends import Backends, CapacityUnavailableError, PortsExhaustedError
from proxy.bodies import Body, Outgoing
from proxy.dialects import of_path
from proxy.errors import ProxyError, UnavailableError
from proxy.forward import UpstreamRefusedError, UpstreamUnreachableError, forward
from proxy.metrics import ProxyMetrics
from proxy.resolve import Plan
from proxy.retry import (
    Breaker,
    BreakerState,
    backoff,
    blames_server,
    parse_retry_after,
    retry_here,
    status_reason,
)

log = logging.getLogger("modelyard.proxy")


class AllCandidatesFailedError(UnavailableError):
    fault = UNAVAILABLE.with_code("all_candidates_failed")


class ChainAtCapacityError(AllCandidatesFailedError):
    """Every candidate was refused for lack of memory: try again later (Retry-After)."""

    fault = CAPACITY_UNAVAILABLE


@dataclass(frozen=True)
class Attempt:
    server: str
    outcome: str  # "ok", "client" (a 4xx passed on) or the failure's reason
    detail: str = ""


@dataclass(frozen=True)
class _Failure:
    reason: str
    detail: str
    retry_after: float | None = None


@dataclass
class _Run:
    """One request's way down its chain so far."""

    tried: list[Attempt] = field(default_factory=list)
    retry_afters: list[float | None] = field(default_factory=list)
    last_failed: tuple[str, str] | None = None  # (server, reason) to label the next move


class Chain:
    def __init__(
        self,
        config: Config,
        backends: Backends,
        session: aiohttp.ClientSession,
        metrics: ProxyMetrics,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.backends = backends
        self.session = session
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.rand = rand
        self.breakers: dict[str, Breaker] = {}

    def breaker(self, server: str) -> Breaker:
        if server not in self.breakers:
            self.breakers[server] = Breaker(self.config.proxy.cooldown)
        return self.breakers[server]

    async def send(self, plan: Plan, path: str, body: Body, headers: dict[str, str]) -> Response:
        run = _Run()
        for server in plan.candidates:
            breaker = self.breaker(server)
            if not breaker.allow(self.clock()):
                wait = breaker.cooling_for(self.clock())
                run.tried.append(Attempt(server, "cooldown", f"skipped, cooling down {wait:.0f} s"))
                self.metrics.attempt(server, "cooldown")
                # A skip is a move down the chain like a failure: counted as one.
                self._count_move(run, server)
                run.last_failed = (server, "cooldown")
                continue
            trial = breaker.trial if breaker.state is BreakerState.HALF_OPEN else None
            self._count_move(run, server)
            try:
                response = await self._on(server, plan, path, body, headers, run)
            finally:
                # However the trial ended (cancelled with its client, an unexpected error, a
                # failure that is not the server's), the next request may try; a no-op once
                # the trial has given its verdict.
                if trial is not None:
                    breaker.abandoned(trial)
            if response is not None:
                return response
        self._count_move(run, "none")
        self.metrics.exhausted.labels(plan.route or "none").inc()
        breakers = [self.breaker(s) for s in plan.candidates]
        raise _exhausted(plan, run.tried, breakers, run.retry_afters, self.clock())

    def _count_move(self, run: _Run, to: str) -> None:
        if run.last_failed is not None:
            self.metrics.fallbacks.labels(run.last_failed[0], to, run.last_failed[1]).inc()

    async def _on(
        self, server: str, plan: Plan, path: str, body: Body, headers: dict[str, str], run: _Run
    ) -> Response | None:
        """`server`'s answer, tried as its retry policy allows, or None to move down the chain."""
        breaker = self.breaker(server)
        policy = self.config.retry_policy(plan.route, server)
        served_name = self.config.served_name(server)
        attempt = 0
        rechecked = False
        while True:
            attempt += 1
            outgoing = body.render(served_name, self.config.servers[server].max_tokens)
            result = await self._try(server, path, outgoing, headers, policy.first_byte_timeout)
            if isinstance(result, Response):
                breaker.succeeded()
                outcome = "ok" if result.status_code < 400 else "client"
                run.tried.append(Attempt(server, outcome))
                self.metrics.attempt(server, outcome)
                _describe(result, server, run.tried)
                return result
            run.tried.append(Attempt(server, result.reason, result.detail))
            self.metrics.attempt(server, result.reason)
            log.warning("attempt %d on %s failed: %s", attempt, server, result.detail)
            run.last_failed = (server, result.reason)
            if result.reason == "stale" and not rechecked:  # asked the supervisor again: go
                rechecked, attempt = True, attempt - 1
                continue
            if not blames_server(result.reason):
                run.retry_afters.append(result.retry_after)
                return None
            breaker.failed(self.clock())
            if result.reason == "start" or not retry_here(policy, result.reason, attempt):
                return None
            if not breaker.allow(self.clock()):
                return None
            await self.sleep(backoff(policy, attempt, result.retry_after, self.rand))

    async def _try(
        self,
        server: str,
        path: str,
        outgoing: Outgoing,
        headers: dict[str, str],
        first_byte_timeout: float | None,
    ) -> Response | _Failure:
        try:
            address = await self.backends.ensure(server)
        except CapacityUnavailableError as exc:
            retry_after = parse_retry_after(exc.headers.get("retry-after"))
            return _Failure("capacity", exc.message, retry_after)
        except PortsExhaustedError as exc:
            return _Failure("ports", exc.message)
        except ProxyError as exc:
            return _Failure("start", exc.message)
        sent = {**headers, "x-modelyard-model": server}
        try:
            response = await forward(
                self.session,
                address.url + path,
                outgoing,
                sent,
                first_byte_timeout,
                of_path(path),
            )
        except UpstreamUnreachableError as exc:
            if exc.reason == "connect" and address.remembered:
                # Refused, or its kept-alive connection found closed: the supervisor may have
                # stopped the server since it last said where it was (an eviction).
                self.backends.forget(server)
                return _Failure("stale", exc.message)
            if isinstance(exc, UpstreamRefusedError):
                self.backends.forget(server)
            return _Failure(exc.reason, exc.message)
        reason = status_reason(response.status_code)
        if reason is None:
            return response
        detail = (
            f"HTTP {response.status_code}: {bytes(response.body)[:200].decode(errors='replace')}"
        )
        return _Failure(reason, detail, parse_retry_after(response.headers.get("retry-after")))


def _describe(response: Response, server: str, tried: list[Attempt]) -> None:
    response.headers["x-modelyard-model"] = server
    response.headers["x-modelyard-attempts"] = str(len(tried))
    response.headers["x-modelyard-tried"] = ",".join(f"{a.server}:{a.outcome}" for a in tried)


def _exhausted(
    plan: Plan,
    tried: list[Attempt],
    breakers: list[Breaker],
    retry_afters: list[float | None],
    now: float,
) -> AllCandidatesFailedError:
    listing = "; ".join(f"{a.server} ({a.outcome}: {a.detail})" for a in tried)
    headers = {
        "x-modelyard-attempts": str(len(tried)),
        "x-modelyard-tried": ",".join(f"{a.server}:{a.outcome}" for a in tried),
    }
    waits = [w for w in retry_afters if w is not None]
    waits += [c for c in (b.cooling_for(now) for b in breakers) if c > 0]
    if waits:
        headers["retry-after"] = str(max(1, int(min(waits))))
    message = (
        f"No server in the {plan.route or plan.requested!r} chain could serve this request. "
        f"Tried: {listing}."
    )
    if tried and all(a.outcome == "capacity" for a in tried):
        return ChainAtCapacityError(message, headers=headers)
    return AllCandidatesFailedError(message, headers=headers)
