"""Serving one request down its chain: retries on a server, then the next candidate, with a
circuit breaker per server. The policy lives in retry.py; this is where it meets the network.

Every attempt is counted (`modelyard_attempts_total`), every move down the chain too
(`modelyard_fallbacks_total{from,to,reason}`), and the response says what happened:
`x-modelyard-attempts` (how many tries) and `x-modelyard-tried` (`server:outcome`, in order).
When no candidate can serve, the client gets a 503 that names every try.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from starlette.responses import Response

from modelyard_config import Config
from openai_wire.errors import CAPACITY_UNAVAILABLE, UNAVAILABLE
from proxy.backends import Backends, CapacityUnavailableError
from proxy.bodies import Body, Outgoing
from proxy.errors import ProxyError, UnavailableError
from proxy.forward import UpstreamRefusedError, UpstreamUnreachableError, forward
from proxy.metrics import ProxyMetrics
from proxy.resolve import Plan
from proxy.retry import Breaker, backoff, parse_retry_after, retry_here, status_reason

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
        tried: list[Attempt] = []
        retry_afters: list[float | None] = []
        last_failed: tuple[str, str] | None = None  # (server, reason) to label the next move
        for server in plan.candidates:
            breaker = self.breaker(server)
            if not breaker.allow(self.clock()):
                wait = breaker.cooling_for(self.clock())
                tried.append(Attempt(server, "cooldown", f"skipped, cooling down {wait:.0f} s"))
                self.metrics.attempts.labels(server, "cooldown").inc()
                continue
            if last_failed is not None:
                self.metrics.fallbacks.labels(last_failed[0], server, last_failed[1]).inc()
            policy = self.config.retry_policy(plan.route, server)
            served_name = self.config.served_name(server)
            attempt = 0
            while True:
                attempt += 1
                outgoing = body.render(served_name)
                result = await self._try(server, path, outgoing, headers, policy.first_byte_timeout)
                if isinstance(result, Response):
                    breaker.succeeded()
                    outcome = "ok" if result.status_code < 400 else "client"
                    tried.append(Attempt(server, outcome))
                    self.metrics.attempts.labels(server, outcome).inc()
                    _describe(result, server, tried)
                    return result
                tried.append(Attempt(server, result.reason, result.detail))
                self.metrics.attempts.labels(server, result.reason).inc()
                log.warning("attempt %d on %s failed: %s", attempt, server, result.detail)
                last_failed = (server, result.reason)
                if result.reason == "capacity":  # no room for it: not the server's fault
                    retry_afters.append(result.retry_after)
                    break
                breaker.failed(self.clock())
                if result.reason == "start" or not retry_here(policy, result.reason, attempt):
                    break
                if not breaker.allow(self.clock()):
                    break
                await self.sleep(backoff(policy, attempt, result.retry_after, self.rand))
        if last_failed is not None:
            self.metrics.fallbacks.labels(last_failed[0], "none", last_failed[1]).inc()
        self.metrics.exhausted.labels(plan.route or "none").inc()
        breakers = [self.breaker(s) for s in plan.candidates]
        raise _exhausted(plan, tried, breakers, retry_afters, self.clock())

    async def _try(
        self,
        server: str,
        path: str,
        outgoing: Outgoing,
        headers: dict[str, str],
        first_byte_timeout: float | None,
    ) -> Response | _Failure:
        try:
            base_url = await self.backends.ensure(server)
        except CapacityUnavailableError as exc:
            retry_after = parse_retry_after(exc.headers.get("retry-after"))
            return _Failure("capacity", exc.message, retry_after)
        except ProxyError as exc:
            return _Failure("start", exc.message)
        sent = {**headers, "x-modelyard-model": server}
        try:
            response = await forward(
                self.session, base_url + path, outgoing, sent, first_byte_timeout
            )
        except UpstreamRefusedError as exc:
            self.backends.forget(server)  # the remembered address is stale; ask again next time
            return _Failure("connect", exc.message)
        except UpstreamUnreachableError as exc:
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
