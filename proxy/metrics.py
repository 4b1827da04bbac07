"""The proxy's Prometheus metrics, in a registry of its own (two proxies in one process, as in
tests, must not collide in the global one)."""

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

    def render(self) -> bytes:
        return generate_latest(self.registry)
