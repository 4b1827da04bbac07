"""What the status page reads from the supervisor, shared (proxy/ui/source.py): polls that
come together cost one set of questions (single-flight), a reading serves later polls for
`max_age`, an action's forget() makes the next poll ask afresh without robbing the polls that
waited on the older reading, and a supervisor that fails or hangs is a reading with an error,
never an exception or a page that hangs. A poll whose page went away does not cancel the
reading others wait for.

The supervisor is a small fake (counts calls, answers on cue, blocks until released, fails
with the supervisor's own errors): these tests are about the sharing and the timing, which a
real supervisor cannot be made to show on cue; test_status_page_api.py reads a real one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from proxy.ui.source import Reading, SupervisorReadings
from supervisor.errors import AdminUnreachableError, SupervisorError
from tests.component.supervisor_fakes import until


class FakeStatusAdmin:
    """Answers servers/devices/schedule. `gate`: each call made while it is set waits for that
    event (the one set when the call came in); `error`: each call raises it; `stuck`: those
    questions never answer. `round` numbers the servers() calls, so a reading says which
    round of questions it came from."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.gate: asyncio.Event | None = None
        self.error: SupervisorError | None = None
        self.stuck: set[str] = set()
        self.round = 0

    async def _answer(self, question: str) -> None:
        self.calls[question] += 1
        gate = self.gate
        if question in self.stuck:
            await asyncio.Event().wait()  # the scenario: a supervisor that never answers this
        if gate is not None:
            await gate.wait()
        if self.error is not None:
            raise self.error

    async def servers(self) -> list[dict[str, Any]]:
        self.round += 1
        asked = self.round
        await self._answer("servers")
        return [{"name": "a", "state": "ready", "round": asked}]

    async def devices(self) -> dict[str, Any]:
        await self._answer("devices")
        return {"kind": "simulated", "limit": None, "devices": []}

    async def schedule(self) -> dict[str, Any]:
        await self._answer("schedule")
        return {"policy": "arrival", "decision": None, "waiting": {}}

    def asked(self, times: int) -> bool:
        return all(self.calls[q] == times for q in ("servers", "devices", "schedule"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def round_of(reading: Reading) -> int:
    round_: int = reading.servers[0]["round"]
    return round_


@pytest.fixture
async def admin() -> FakeStatusAdmin:
    return FakeStatusAdmin()


async def test_concurrent_polls_share_one_set_of_questions(admin: FakeStatusAdmin) -> None:
    readings = SupervisorReadings(admin)
    admin.gate = asyncio.Event()
    polls = [asyncio.create_task(readings.read()) for _ in range(10)]
    await until(lambda: admin.asked(1), "the three questions asked")
    admin.gate.set()
    answers = await asyncio.gather(*polls)
    assert all(answer is answers[0] for answer in answers)
    assert admin.asked(1), admin.calls
    first = answers[0]
    assert first.error is None and round_of(first) == 1
    assert first.devices == {"kind": "simulated", "limit": None, "devices": []}
    assert first.schedule == {"policy": "arrival", "decision": None, "waiting": {}}


async def test_a_reading_serves_the_polls_within_max_age_then_is_asked_again(
    admin: FakeStatusAdmin,
) -> None:
    clock = Clock()
    readings = SupervisorReadings(admin, max_age=1.0, clock=clock)
    first = await readings.read()
    assert first.taken == 100.0
    clock.now = 100.9
    assert await readings.read() is first
    assert admin.asked(1)
    clock.now = 101.0  # max_age old: asked again
    second = await readings.read()
    assert second is not first and round_of(second) == 2 and second.taken == 101.0
    assert admin.asked(2)
    clock.now = 101.5
    assert await readings.read() is second
    clock.now = 500.0
    assert round_of(await readings.read()) == 3


async def test_forget_asks_afresh_while_an_older_reading_is_still_being_taken(
    admin: FakeStatusAdmin,
) -> None:
    clock = Clock()
    readings = SupervisorReadings(admin, max_age=10.0, clock=clock)
    assert round_of(await readings.read()) == 1
    older_gate = admin.gate = asyncio.Event()
    clock.now = 200.0  # past max_age: the next poll asks
    waiters = [asyncio.create_task(readings.read()) for _ in range(3)]
    await until(lambda: admin.asked(2), "the older questions asked")

    readings.forget()  # an action was done: what is being asked is from before it
    admin.gate = None
    fresh = await readings.read()
    assert round_of(fresh) == 3, "a poll after forget() waits for no reading asked before it"
    assert admin.asked(3)

    older_gate.set()
    answered = await asyncio.gather(*waiters)
    assert [round_of(r) for r in answered] == [2, 2, 2], "the older one's waiters get it"
    assert all(r is answered[0] for r in answered)
    # and the older reading, finished after the fresh one, does not replace it for later polls
    assert await readings.read() is fresh
    assert admin.asked(3)


async def test_forget_with_nothing_being_taken_drops_the_kept_reading(
    admin: FakeStatusAdmin,
) -> None:
    readings = SupervisorReadings(admin, max_age=60.0)
    first = await readings.read()
    readings.forget()
    second = await readings.read()
    assert second is not first and round_of(second) == 2


async def test_a_supervisor_error_is_a_reading_with_the_error(admin: FakeStatusAdmin) -> None:
    admin.error = AdminUnreachableError("http://127.0.0.1:4100", "connection refused")
    reading = await SupervisorReadings(admin).read()
    assert reading.error == "supervisor at http://127.0.0.1:4100 is unreachable: connection refused"
    assert reading.servers == [] and reading.devices is None and reading.schedule is None


async def test_one_question_failing_ends_the_reading_without_waiting_for_the_others(
    admin: FakeStatusAdmin,
) -> None:
    """The failure cancels the questions still out: no wait for the timeout."""
    admin.stuck = {"devices", "schedule"}
    admin.error = SupervisorError("the admin API answered 500")
    reading = await asyncio.wait_for(SupervisorReadings(admin, timeout=60.0).read(), 10.0)
    assert reading.error == "the admin API answered 500"
    assert reading.servers == [] and reading.devices is None


async def test_an_error_without_a_message_is_named_by_its_type(admin: FakeStatusAdmin) -> None:
    admin.error = SupervisorError()
    reading = await SupervisorReadings(admin).read()
    assert reading.error == "SupervisorError"


async def test_a_supervisor_that_hangs_is_a_reading_that_says_so(admin: FakeStatusAdmin) -> None:
    admin.stuck = {"schedule"}
    readings = SupervisorReadings(admin, timeout=0.05)
    reading = await asyncio.wait_for(readings.read(), 10.0)
    assert reading.error == "the supervisor did not answer within 0.05 s"
    assert reading.servers == [] and reading.devices is None and reading.schedule is None


async def test_a_poll_that_goes_away_does_not_cancel_the_shared_reading(
    admin: FakeStatusAdmin,
) -> None:
    clock = Clock()
    readings = SupervisorReadings(admin, max_age=10.0, clock=clock)
    admin.gate = asyncio.Event()
    leaving = asyncio.create_task(readings.read())
    staying = asyncio.create_task(readings.read())
    await until(lambda: admin.asked(1), "the questions asked")
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    admin.gate.set()
    reading = await staying
    assert reading.error is None and round_of(reading) == 1
    assert await readings.read() is reading, "kept for later polls too"
    assert admin.asked(1)


async def test_every_poll_going_away_still_leaves_the_reading_for_the_next(
    admin: FakeStatusAdmin,
) -> None:
    clock = Clock()
    readings = SupervisorReadings(admin, max_age=10.0, clock=clock)
    admin.gate = asyncio.Event()
    poll = asyncio.create_task(readings.read())
    await until(lambda: admin.asked(1), "the questions asked")
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    admin.gate.set()
    reading = await readings.read()  # joins the reading still being taken
    assert round_of(reading) == 1 and admin.asked(1)


async def test_aclose_cancels_what_is_being_taken(admin: FakeStatusAdmin) -> None:
    readings = SupervisorReadings(admin)
    admin.gate = asyncio.Event()
    poll = asyncio.create_task(readings.read())
    await until(lambda: admin.asked(1), "the questions asked")
    await readings.aclose()
    with pytest.raises(asyncio.CancelledError):
        await poll
