"""The proxy's short memory of ready servers, and how supervisor errors reach the client."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.backends import Backends, PortsExhaustedError, SupervisorUnreachableError
from proxy.errors import UnavailableError
from supervisor.errors import AdminUnreachableError, NoFreePortError, StartFailedError


class FakeAdmin:
    """Stands in for the supervisor's admin API: counts ensures, answers from a script."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def ensure(self, name: str) -> dict[str, Any]:
        self.calls += 1
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def server(self, name: str) -> dict[str, Any]:
        return await self.ensure(name)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_ready_url_is_remembered_for_the_ttl_then_asked_again() -> None:
    admin, clock = FakeAdmin({"base_url": "http://a:1"}, {"base_url": "http://a:2"}), Clock()
    backends = Backends(admin, ttl=2.0, clock=clock)
    assert await backends.ensure("a") == ("http://a:1", False)
    clock.now += 1.9
    assert await backends.ensure("a") == ("http://a:1", True)
    assert admin.calls == 1
    clock.now += 0.2
    assert await backends.ensure("a") == ("http://a:2", False)
    assert admin.calls == 2


async def test_forget_asks_again_at_once() -> None:
    admin = FakeAdmin({"base_url": "http://a:1"}, {"base_url": "http://a:9"})
    backends = Backends(admin, clock=Clock())
    await backends.ensure("a")
    backends.forget("a")
    assert await backends.ensure("a") == ("http://a:9", False)


async def test_start_failure_becomes_503_with_the_reason_and_last_log_line() -> None:
    failure = StartFailedError("a", "exited with code 3 while starting", 3, ["x", "boom"])
    with pytest.raises(UnavailableError) as info:
        await Backends(FakeAdmin(failure)).ensure("a")
    assert info.value.status == 503
    assert "exited with code 3" in info.value.message and "boom" in info.value.message


async def test_unreachable_supervisor_is_its_own_code() -> None:
    with pytest.raises(SupervisorUnreachableError) as info:
        await Backends(FakeAdmin(AdminUnreachableError("http://s", "refused"))).ensure("a")
    assert info.value.body()["error"]["code"] == "supervisor_unreachable"


async def test_failures_are_not_remembered() -> None:
    admin = FakeAdmin(StartFailedError("a", "x", 1, []), {"base_url": "http://a:1"})
    backends = Backends(admin, clock=Clock())
    with pytest.raises(UnavailableError):
        await backends.ensure("a")
    assert (await backends.ensure("a")).url == "http://a:1"


async def test_a_used_up_port_range_is_its_own_error_not_the_servers_start_failure() -> None:
    """Not the server's fault, so the chain must be able to tell it from a start failure."""
    with pytest.raises(PortsExhaustedError) as info:
        await Backends(FakeAdmin(NoFreePortError("no free port in 8100-8101"))).ensure("a")
    assert info.value.status == 503
    assert info.value.body()["error"]["code"] == "no_free_port"
    assert "8100-8101" in info.value.message
