"""The proxy's Prometheus metrics, in a registry of its own (two proxies in one process, as in
tests, must not collide in the global one).

Every request counts an attempt, so `attempt()` keeps each label set's child: prometheus_client's
`labels()` checks the values and takes a lock on every call, 4.8 us against 1.7 us for a kept
child (measured on this 2-core box). The label values are server names and outcomes, a bounded
set, so the cache is too.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest


class ProxyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.attempts = Counter(
            "modelyard_attempts",
            "Tries to serve a request on one server, by outcome (ok or the failure's reason).",
            ["server", "outcome"],
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "modelyard_fallbacks",
            "Moves down a chain: from the server given up on, to the next one tried.",
            ["from", "to", "reason"],
            registry=self.registry,
        )
        self.exhausted = Counter(
            "modelyard_chains_exhausted",
            "Requests no candidate could serve (answered 503).",
            ["route"],
            registry=self.registry,
        )

        self.refusals = Counter(
            "modelyard_key_refusals",
            "Requests refused at the door: a missing or wrong key (key '-'), or a key over one "
            "of its limits (requests_per_minute, max_concurrent). Keys by name, never value.",
            ["key", "limit"],
            registry=self.registry,
        )

        self._attempt_children: dict[tuple[str, str], Counter] = {}

    def attempt(self, server: str, outcome: str) -> None:
        """modelyard_attempts_total{server, outcome} += 1."""
        key = (server, outcome)
        child = self._attempt_children.get(key)
        if child is None:
            child = self._attempt_children[key] = self.attempts.labels(server, outcome)
        child.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
