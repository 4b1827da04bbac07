"""Serving one request down its chain: retries on a server, then the next candidate, with a
circuit breaker per server. The policy lives in retry.py; this is where it meets the network.

Every attempt is counted (`modelyard_attempts_total`), every move down the chain too
(`modelyard_fallbacks_total{from,to,reason}`), and the response says what happened:
`x-modelyard-attempts` (how many tries), `x-modelyard-tried` (`server:outcome`, in order) and
`x-modelyard-waited` (seconds spent waiting for servers to be ready), and
`x-modelyard-variant` when the supervisor answered for a server with one of its smaller
variants. When no candidate can serve, the client gets a 503 that names every try.

A request with a max wait (waits.py) asks the supervisor for its predicted waits once, and
only when it needs them: the first time a candidate is not known ready. A candidate predicted
past what is left of the max wait is passed over (`server:wait`) when a later one is ready
sooner; every wait for a server is bounded by what is left. A server passed over is still
asked for in the background (Backends.want: one question per server), so the supervisor's
scheduler counts it as wanted and loads it when that is worth it; later requests then find
it ready and go back to it. Without a max wait nothing of
this runs, and with one a primary known ready asks nothing more: the hot path only times its
ensure, for `x-modelyard-waited`.

A remote server (`servers.<name>.remote`, proxy/remote.py) is called through LiteLLM instead:
never asked of the supervisor (it is ready, wait 0), its failures named as a local server's
are (remote_errors.py), plus `auth` (its key refused: 401, 402, 403), `config` (its model or
provider unknown) and `error` (LiteLLM failed on its own), which move down the chain at once.
An endpoint LiteLLM has no call for passes it over (`server:unsupported`), as a cooldown does.

Only the server's own failures count against its breaker (retry.blames_server). A remembered
address that fails to connect is `stale`: the supervisor is asked again and the request sent
at once, not held against the server. A half-open trial is given back however `send` ends
(cancelled with its client, or an error nobody expected), so no server stays skipped for good.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from starlette.responses import Response

from modelyard_config import Config
from openai_wire.errors import CAPACITY_UNAVAILABLE, UNAVAILABLE
from proxy.backends import Backends, CapacityUnavailableError, PortsExhaustedError
from proxy.balance import Balancer
from proxy.bodies import Body, Outgoing
from proxy.dialects import of_path
from proxy.errors import ProxyError, UnavailableError
from proxy.forward import UpstreamRefusedError, UpstreamUnreachableError, forward
from proxy.metrics import ProxyMetrics
from proxy.remote import Remote, RemoteFailedError
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
from proxy.waits import (
    MAX_WAIT_HEADER,
    WAITED_HEADER,
    Go,
    PassOver,
    Predictions,
    decide,
    max_wait_for,
    parse_max_wait,
    waited,
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

    max_wait: float | None = None  # seconds it waits for capacity in all; None: no limit
    tried: list[Attempt] = field(default_factory=list)
    retry_afters: list[float | None] = field(default_factory=list)
    last_failed: tuple[str, str] | None = None  # (server, reason) to label the next move
    waited: float = 0.0  # seconds spent in Backends.ensure
    limit: float | None = None  # the bound on the current candidate's wait
    asked: bool = False  # the supervisor was asked for predictions (once a request)
    predictions: Predictions | None = None
    variant: str | None = None  # the server that answered for the last one tried, if another


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
        balancer: Balancer | None = None,
        remote: Remote | None = None,
    ) -> None:
        self.config = config
        self.backends = backends
        # remote servers (`remote:`) are called through LiteLLM, never asked of the supervisor
        self.remote = remote or Remote(config)
        self.session = session
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self.rand = rand
        self.breakers: dict[str, Breaker] = {}
        # orders each group's members per request (issue 16); without one given, it knows
        # only what this proxy remembers of who is ready (the app gives it the supervisor)
        self.balancer = balancer or Balancer(config, backends.ready_now, clock=clock)

    def breaker(self, server: str) -> Breaker:
        if server not in self.breakers:
            self.breakers[server] = Breaker(self.config.proxy.cooldown)
        return self.breakers[server]

    async def send(self, plan: Plan, path: str, body: Body, headers: dict[str, str]) -> Response:
        plan = self.balancer.order(plan)
        run = _Run()
        asked = headers.get(MAX_WAIT_HEADER)
        if asked is not None:  # the client's, to bound the wait here: not for the upstream
            headers = {k: v for k, v in headers.items() if k != MAX_WAIT_HEADER}
        run.max_wait = max_wait_for(self.config, plan.route, parse_max_wait(asked))
        for index, server in enumerate(plan.candidates):
            if self.remote.serves(server) and (why := self.remote.cannot(path)) is not None:
                self._skip(run, server, "unsupported", why)  # not its failure: no breaker
                continue
            breaker = self.breaker(server)
            # before allow(), which may make this request the half-open trial; a server
            # cooling down is skipped for that, below
            if run.max_wait is not None and breaker.cooling_for(self.clock()) <= 0:
                passed = await self._passed_over(plan.candidates[index:], run)
                if passed is not None:
                    self._skip(run, server, "wait", passed.detail)
                    run.retry_afters.append(passed.predicted)
                    # still wanted: asked for in the background, so that it loads when the
                    # scheduler finds it worth it and later requests go back to it
                    self.backends.want(server)
                    continue
            if not breaker.allow(self.clock()):
                wait = breaker.cooling_for(self.clock())
                self._skip(run, server, "cooldown", f"skipped, cooling down {wait:.0f} s")
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
        raise _exhausted(plan, run, breakers, self.clock())

    def _skip(self, run: _Run, server: str, reason: str, detail: str) -> None:
        run.tried.append(Attempt(server, reason, detail))
        self.metrics.attempt(server, reason)
        # A skip is a move down the chain like a failure: counted as one.
        self._count_move(run, server)
        run.last_failed = (server, reason)

    def _count_move(self, run: _Run, to: str) -> None:
        if run.last_failed is not None:
            self.metrics.fallbacks.labels(run.last_failed[0], to, run.last_failed[1]).inc()

    async def _passed_over(self, rest: tuple[str, ...], run: _Run) -> PassOver | None:
        """Whether to pass over `rest[0]` for the request's max wait; else sets how long to
        wait for it at most. A server known ready needs no question to the supervisor; the
        max wait still bounds a retry that finds the memory of it expired."""
        server, now = rest[0], self.clock()
        assert run.max_wait is not None
        if self.backends.ready_now(server):
            run.limit = run.max_wait
            return None
        if not run.asked:
            run.asked = True
            found = await self.backends.waits(rest)
            now = self.clock()
            run.predictions = Predictions.of(found, now) if found is not None else None
        later = [s for s in rest[1:] if self.breaker(s).cooling_for(now) <= 0]
        decision = decide(server, later, run.predictions, run.max_wait, run.waited, now)
        if isinstance(decision, Go):
            run.limit = decision.limit
            return None
        return decision

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
            if self.remote.serves(server):
                result = await self._call(
                    server, path, body, headers, policy.first_byte_timeout, run
                )
            else:
                outgoing = body.render(served_name, self.config.servers[server].max_tokens)
                result = await self._try(
                    server, path, outgoing, headers, policy.first_byte_timeout, run
                )
            if isinstance(result, Response):
                breaker.succeeded()
                outcome = "ok" if result.status_code < 400 else "client"
                run.tried.append(Attempt(server, outcome))
                self.metrics.attempt(server, outcome)
                _describe(result, server, run)
                return result
            run.tried.append(Attempt(server, result.reason, result.detail))
            self.metrics.attempt(server, result.reason)
            log.warning("attempt %d on %s failed: %s", attempt, server, result.detail)
            run.last_failed = (server, result.reason)
            if result.reason == "stale" and not rechecked:  # asked the supervisor again: go
                rechecked, attempt = True, attempt - 1
                continue
            if not blames_server(result.reason):
                later = result.retry_after
                if later is None and result.reason == "capacity" and run.predictions is not None:
                    later = run.predictions.left(server, self.clock())  # its own wait ran out
                run.retry_afters.append(later)
                return None
            breaker.failed(self.clock())
            if result.retry_after is not None:  # a 429's: what the 503 says, if it comes to one
                run.retry_afters.append(result.retry_after)
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
        run: _Run,
    ) -> Response | _Failure:
        started = self.clock()
        try:
            address = await self.backends.ensure(server, run.limit)
        except CapacityUnavailableError as exc:
            retry_after = parse_retry_after(exc.headers.get("retry-after"))
            return _Failure("capacity", exc.message, retry_after)
        except PortsExhaustedError as exc:
            return _Failure("ports", exc.message)
        except ProxyError as exc:
            return _Failure("start", exc.message)
        finally:
            run.waited += self.clock() - started
        run.variant = self.backends.variant(server)
        sent = {**headers, "x-modelyard-model": server}
        try:
            response = await self.balancer.timed(
                server,
                forward(
                    self.session,
                    address.url + path,
                    outgoing,
                    sent,
                    first_byte_timeout,
                    of_path(path),
                ),
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

    async def _call(
        self,
        server: str,
        path: str,
        body: Body,
        headers: dict[str, str],
        first_byte_timeout: float | None,
        run: _Run,
    ) -> Response | _Failure:
        """One attempt on a remote server: through LiteLLM, once its import is done (the
        wait for it counts as waiting for the server, as a local server's start does)."""
        started = self.clock()
        run.variant = None
        try:
            litellm = await self.remote.loaded()
        except RemoteFailedError as exc:
            return _Failure(exc.reason, exc.message)
        finally:
            run.waited += self.clock() - started
        try:
            return await self.balancer.timed(
                server,
                self.remote.send(litellm, server, path, body, headers, first_byte_timeout),
            )
        except RemoteFailedError as exc:
            return _Failure(exc.reason, exc.message, exc.retry_after)


def _describe(response: Response, server: str, run: _Run) -> None:
    response.headers["x-modelyard-model"] = server
    response.headers["x-modelyard-attempts"] = str(len(run.tried))
    response.headers["x-modelyard-tried"] = ",".join(f"{a.server}:{a.outcome}" for a in run.tried)
    response.headers[WAITED_HEADER] = waited(run.waited)
    if run.variant is not None:  # fit by variant: a smaller server of the model answered
        response.headers["x-modelyard-variant"] = run.variant


# Outcomes that say "no room yet", not "broken": a chain that ends on these alone is at capacity.
_NO_ROOM = frozenset({"capacity", "wait"})


def _exhausted(
    plan: Plan, run: _Run, breakers: list[Breaker], now: float
) -> AllCandidatesFailedError:
    tried = run.tried
    listing = "; ".join(f"{a.server} ({a.outcome}: {a.detail})" for a in tried)
    headers = {
        "x-modelyard-attempts": str(len(tried)),
        "x-modelyard-tried": ",".join(f"{a.server}:{a.outcome}" for a in tried),
        WAITED_HEADER: waited(run.waited),
    }
    # the supervisor's predictions and Retry-After figures, the breakers' cooldowns: the
    # soonest, rounded up (a client back a fraction too early finds nothing changed)
    waits = [w for w in run.retry_afters if w is not None and math.isfinite(w)]
    waits += [c for c in (b.cooling_for(now) for b in breakers) if c > 0]
    if waits:
        headers["retry-after"] = str(max(1, math.ceil(min(waits))))
    message = (
        f"No server in the {plan.route or plan.requested!r} chain could serve this request. "
        f"Tried: {listing}."
    )
    if tried and all(a.outcome in _NO_ROOM for a in tried):
        return ChainAtCapacityError(message, headers=headers)
    return AllCandidatesFailedError(message, headers=headers)
