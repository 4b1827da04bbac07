"""The proxy's short memory of ready servers, and how supervisor errors reach the client.

The fake admin can hold its answers (`hold()`, `release()`), so a test sees callers while a
question to the supervisor is in flight, with no sleeps: issue 14's burst of ensures at expiry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from proxy.backends import (
    Backends,
    CapacityUnavailableError,
    PortsExhaustedError,
    SupervisorUnreachableError,
)
from proxy.errors import UnavailableError
from proxy.waits import Wait
from supervisor.errors import (
    AdminUnreachableError,
    CapacityError,
    NoFreePortError,
    StartFailedError,
    SupervisorError,
)


class FakeAdmin:
    """Stands in for the supervisor's admin API: counts ensures, answers from a script."""

    def __init__(self, *answers: dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0
        self.predicted: list[dict[str, Any]] | Exception = []  # what waits() answers
        self.waits_asked: list[list[str]] = []
        self.max_waits: list[float | None] = []  # what each ensure was told
        self.asked = asyncio.Event()  # a call came in
        self.answered = asyncio.Event()  # a call returned (or raised)
        self._gate: asyncio.Event | None = None

    def hold(self) -> None:
        """Calls from now on wait for release()."""
        self._gate = asyncio.Event()
        self.asked.clear()
        self.answered.clear()

    def release(self) -> None:
        assert self._gate is not None
        self._gate.set()

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        self.calls += 1
        self.max_waits.append(max_wait)
        answer = self.answers[min(self.calls, len(self.answers)) - 1]
        self.asked.set()
        try:
            if self._gate is not None:
                await self._gate.wait()
            if isinstance(answer, Exception):
                raise answer
            return answer
        finally:
            self.answered.set()

    async def server(self, name: str) -> dict[str, Any]:
        return await self.ensure(name)

    async def waits(self, names: list[str]) -> list[dict[str, Any]]:
        self.waits_asked.append(names)
        if isinstance(self.predicted, Exception):
            raise self.predicted
        return self.predicted


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_ready_url_is_remembered_for_the_ttl_then_asked_again() -> None:
    admin, clock = FakeAdmin({"base_url": "http://a:1"}, {"base_url": "http://a:2"}), Clock()
    backends = Backends(admin, ttl=2.0, clock=clock)
    assert await backends.ensure("a") == ("http://a:1", False)
    clock.now += 1.4  # before the refresh window (the last quarter of the ttl)
    assert await backends.ensure("a") == ("http://a:1", True)
    assert admin.calls == 1
    clock.now += 0.7  # expired with no request in the refresh window: an idle server
    assert await backends.ensure("a") == ("http://a:2", False)
    assert admin.calls == 2


async def test_concurrent_callers_share_one_question_to_the_supervisor() -> None:
    """Issue 14: at expiry every request in flight asked on its own."""
    admin = FakeAdmin({"base_url": "http://a:1"})
    admin.hold()
    backends = Backends(admin, clock=Clock())
    callers = [asyncio.create_task(backends.ensure("a")) for _ in range(32)]
    await admin.asked.wait()
    admin.release()
    assert set(await asyncio.gather(*callers)) == {("http://a:1", False)}
    assert admin.calls == 1


async def test_past_the_join_window_each_caller_waits_at_the_supervisor_on_its_own() -> None:
    """A question unanswered for join_window means a load or a wait for room: the scheduler
    must see every waiting request and its max wait, not one shared question without one."""
    admin, clock = FakeAdmin({"base_url": "http://a:1"}), Clock()
    admin.hold()
    backends = Backends(admin, clock=clock, join_window=1.0)
    first = asyncio.create_task(backends.ensure("a"))
    await admin.asked.wait()
    joiner = asyncio.create_task(backends.ensure("a", max_wait=30))  # inside the window
    await asyncio.sleep(0)  # a loop turn, not synchronisation: let it join (no new call)
    assert admin.calls == 1
    clock.now += 1.5
    alone = [asyncio.create_task(backends.ensure("a", max_wait=w)) for w in (5.0, 9.0)]
    while admin.calls < 3:
        await asyncio.sleep(0)  # a loop turn: until both have asked
    assert admin.max_waits == [None, 5.0, 9.0]
    admin.release()
    assert set(await asyncio.gather(first, joiner, *alone)) == {("http://a:1", False)}
    assert admin.calls == 3


async def test_a_refresh_before_expiry_runs_in_the_background_and_blocks_no_caller() -> None:
    admin, clock = FakeAdmin({"base_url": "http://a:1"}, {"base_url": "http://a:2"}), Clock()
    backends = Backends(admin, ttl=2.0, clock=clock)
    await backends.ensure("a")
    admin.hold()
    clock.now += 1.6  # in the last quarter of the ttl
    for _ in range(10):  # answered at once from memory, while one refresh is in flight
        assert await backends.ensure("a") == ("http://a:1", True)
    await admin.asked.wait()
    assert admin.calls == 2
    admin.release()
    await admin.answered.wait()
    clock.now += 1.0  # past the first answer's expiry: the refreshed one serves
    assert await backends.ensure("a") == ("http://a:2", True)
    assert admin.calls == 2


async def test_requests_after_expiry_wait_for_the_refresh_already_in_flight() -> None:
    admin, clock = FakeAdmin({"base_url": "http://a:1"}, {"base_url": "http://a:2"}), Clock()
    backends = Backends(admin, ttl=2.0, clock=clock)
    await backends.ensure("a")
    admin.hold()
    clock.now += 1.6
    await backends.ensure("a")  # starts the refresh
    clock.now += 0.5  # expired before the supervisor answered
    late = [asyncio.create_task(backends.ensure("a")) for _ in range(5)]
    await admin.asked.wait()
    admin.release()
    assert set(await asyncio.gather(*late)) == {("http://a:2", False)}
    assert admin.calls == 2


async def test_a_failed_refresh_keeps_the_url_until_its_ttl_then_the_error_is_asked_again() -> None:
    failure = AdminUnreachableError("http://s", "refused")
    admin, clock = FakeAdmin({"base_url": "http://a:1"}, failure, failure), Clock()
    backends = Backends(admin, ttl=2.0, clock=clock)
    await backends.ensure("a")
    admin.hold()
    clock.now += 1.6
    assert await backends.ensure("a") == ("http://a:1", True)
    await admin.asked.wait()
    admin.release()
    await admin.answered.wait()
    for _ in range(5):  # still the URL, and no second refresh before the ttl ends
        assert await backends.ensure("a") == ("http://a:1", True)
    assert admin.calls == 2
    clock.now += 0.5  # the ttl is over: nothing of the failure was kept but the URL's end
    with pytest.raises(SupervisorUnreachableError):
        await backends.ensure("a")
    assert admin.calls == 3


async def test_a_caller_that_goes_away_leaves_the_question_to_the_others() -> None:
    admin = FakeAdmin({"base_url": "http://a:1"})
    admin.hold()
    backends = Backends(admin, clock=Clock())
    gone = asyncio.create_task(backends.ensure("a"))
    stays = asyncio.create_task(backends.ensure("a"))
    await admin.asked.wait()
    gone.cancel()
    admin.release()
    assert await stays == ("http://a:1", False)
    assert gone.cancelled() and admin.calls == 1


async def test_forget_during_a_question_asks_afresh_and_keeps_nothing_of_the_old_one() -> None:
    """A refusal means the answer asked before it may be stale: the next caller must not
    join that question, and its answer must not be remembered."""
    admin, clock = FakeAdmin({"base_url": "http://a:1"}, {"base_url": "http://a:9"}), Clock()
    backends = Backends(admin, ttl=2.0, clock=clock)
    admin.hold()
    before = asyncio.create_task(backends.ensure("a"))
    await admin.asked.wait()
    backends.forget("a")
    after = asyncio.create_task(backends.ensure("a"))
    admin.release()
    # the old question's waiter gets its answer flagged as possibly stale
    assert await before == ("http://a:1", True)
    assert await after == ("http://a:9", False)
    assert admin.calls == 2
    assert await backends.ensure("a") == ("http://a:9", True)


async def test_aclose_cancels_a_question_in_flight() -> None:
    admin = FakeAdmin({"base_url": "http://a:1"})
    admin.hold()
    backends = Backends(admin, clock=Clock())
    waiting = asyncio.create_task(backends.ensure("a"))
    await admin.asked.wait()
    await backends.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiting


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


# -- a caller's max wait (issue 16) ---------------------------------------------------------


async def test_a_caller_past_its_max_wait_leaves_and_the_question_goes_on_for_the_rest() -> None:
    """The question is shared: one caller's short max wait must cut neither the wait of a
    caller with none nor the answer, which is remembered for the next request."""
    admin = FakeAdmin({"base_url": "http://a:1"})
    admin.hold()
    backends = Backends(admin, clock=Clock())
    patient = asyncio.create_task(backends.ensure("a"))
    with pytest.raises(CapacityUnavailableError) as info:
        await backends.ensure("a", max_wait=0.05)
    assert info.value.status == 503
    assert info.value.body()["error"]["code"] == "capacity_unavailable"
    assert "max wait of 0.05 s" in info.value.message
    assert not patient.done()
    admin.release()
    assert await patient == ("http://a:1", False)
    assert await backends.ensure("a", max_wait=0.05) == ("http://a:1", True)
    assert admin.calls == 1


async def test_a_ready_answer_within_the_max_wait_is_the_answer() -> None:
    admin = FakeAdmin({"base_url": "http://a:1"})
    assert await Backends(admin, clock=Clock()).ensure("a", max_wait=5) == ("http://a:1", False)


async def test_an_error_within_the_max_wait_is_the_supervisors_own() -> None:
    admin = FakeAdmin(StartFailedError("a", "exited with code 3", 3, []))
    with pytest.raises(UnavailableError) as info:
        await Backends(admin, clock=Clock()).ensure("a", max_wait=5)
    assert "exited with code 3" in info.value.message


async def test_a_capacity_refusal_says_to_come_back_after_the_wait_rounded_up() -> None:
    """A client back after a floored figure (2 for 2.4 s) would find it not yet ready."""
    for retry_after, said in ((2.4, "3"), (0.2, "1"), (7.0, "7")):
        admin = FakeAdmin(CapacityError("a", "every device is full", retry_after))
        with pytest.raises(CapacityUnavailableError) as info:
            await Backends(admin, clock=Clock()).ensure("a")
        assert info.value.headers["retry-after"] == said


async def test_predicted_waits_come_back_in_the_order_asked() -> None:
    admin = FakeAdmin()
    admin.predicted = [
        {"server": "b", "ready": False, "seconds": 42.5, "reason": "b: start in 30 s"},
        {"server": "a", "ready": True, "seconds": 0.0, "reason": "a is ready"},
        {"server": "c", "ready": False, "seconds": None, "reason": "c does not fit"},
    ]
    waits = await Backends(admin, clock=Clock()).waits(("b", "a", "c"))
    assert waits == [
        Wait("b", False, 42.5, "b: start in 30 s"),
        Wait("a", True, 0.0, "a is ready"),
        Wait("c", False, None, "c does not fit"),
    ]
    assert admin.waits_asked == [["b", "a", "c"]]


@pytest.mark.parametrize(
    "failure",
    [AdminUnreachableError("http://s", "refused"), SupervisorError("supervisor answered 404")],
    ids=["unreachable", "no-waits-endpoint"],
)
async def test_no_prediction_is_none_not_an_error(failure: Exception) -> None:
    admin = FakeAdmin()
    admin.predicted = failure
    backends = Backends(admin, clock=Clock())
    assert await backends.waits(["a"]) is None
    assert await backends.waits([]) == [] and admin.waits_asked == [["a"]]
