"""Restart backoff: doubles from the initial delay, capped."""

from __future__ import annotations

from modelyard_config.supervisor import HealthSettings
from supervisor.restarts import backoff


def test_backoff_doubles_then_caps() -> None:
    health = HealthSettings(backoff_initial=1, backoff_max=5)
    assert [backoff(n, health) for n in range(5)] == [1, 2, 4, 5, 5]
