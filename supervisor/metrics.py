"""The supervisor's Prometheus metrics, on its own registry (no process-global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from supervisor.states import State


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.state = Gauge(
            "modelyard_server_state",
            "1 for the state each server is in",
            ["server", "state"],
            registry=r,
        )
        self.loads = Counter("modelyard_loads_total", "Server starts", ["server"], registry=r)
        self.evictions = Counter(
            "modelyard_evictions_total",
            "Servers evicted to make room",
            ["server", "action"],
            registry=r,
        )
        self.sleeps = Counter(
            "modelyard_sleeps_total", "Servers put to sleep", ["server"], registry=r
        )
        self.wakes = Counter("modelyard_wakes_total", "Servers woken", ["server"], registry=r)
        self.restarts = Counter(
            "modelyard_restarts_total",
            "Restarts after a crash or failed health checks",
            ["server"],
            registry=r,
        )
        self.load_seconds = Histogram(
            "modelyard_load_seconds",
            "Start to ready, seconds",
            ["server"],
            registry=r,
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600),
        )
        self.planned = Gauge(
            "modelyard_memory_planned_bytes", "Budgets placed per device", ["device"], registry=r
        )
        self.used = Gauge(
            "modelyard_memory_used_bytes",
            "Measured memory in use per device",
            ["device"],
            registry=r,
        )
        self.total = Gauge("modelyard_memory_total_bytes", "Device memory", ["device"], registry=r)
        self.queue = Gauge("modelyard_queue_length", "Ensures waiting for capacity", registry=r)
        self.demotions = Counter(
            "modelyard_demotions_total",
            "Sleeping servers moved to sleep level 2 or stopped (idle time, the host RAM "
            "budget, or a sleep that left the GPU memory held)",
            ["server", "to"],
            registry=r,
        )
        self.waiting = Gauge(
            "modelyard_waiting_requests",
            "Requests waiting for a server to be ready (what the scheduler weighs)",
            ["server"],
            registry=r,
        )
        self.switch_seconds = Gauge(
            "modelyard_switch_seconds",
            "Learned seconds per switch (start, wake, sleep, stop)",
            ["server", "kind"],
            registry=r,
        )
        self.variants = Counter(
            "modelyard_variant_placements_total",
            "Asks for a server (ensure) answered with one of its variants (fit by variant)",
            ["server", "variant"],
            registry=r,
        )
        self.drains = Counter(
            "modelyard_drains_total",
            "Evictees drained of their work before going",
            ["server"],
            registry=r,
        )

    def set_state(self, server: str, state: State) -> None:
        for candidate in State:
            self.state.labels(server, str(candidate)).set(1 if candidate is state else 0)
