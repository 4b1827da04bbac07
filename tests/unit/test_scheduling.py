"""The swap-aware scheduler on simulated fleets (issue 16): no processes, the clock a number.

The fleet: `a` holds the GPU, `b`, `x` and `y` each need it to go. Switch costs are 1 s to sleep,
4 s to wake, 20 s to start; a request takes 2 s, one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pytest

from supervisor.capacity import Eviction
from supervisor.costs import SwitchTimes
from supervisor.scheduling import (
    Fleet,
    Phase,
    Profile,
    Request,
    Resident,
    Settings,
    Waiting,
    next_load,
    predicted_wait,
    predicted_waits,
    switch_cost,
    value,
)

COSTS = SwitchTimes(start=20, wake=4, sleep=1, stop=2)
PROFILE = Profile(COSTS, service_s=2.0, slots=1)
SETTINGS = Settings(min_residency=30, age_weight=2.0, deadline_slack=1.0)
EVICT_A = (Eviction("a", "sleep"),)


def ready(name: str = "a", since: float = 0.0, in_flight: int = 0, queued: int = 0) -> Resident:
    return Resident(name, "ready", since, in_flight, queued)


def other(name: str, phase: Phase = "asleep", since: float = 0.0, queued: int = 0) -> Resident:
    return Resident(name, phase, since, 0, queued)


def fleet(
    residents: Sequence[Resident],
    waiting: Mapping[str, Sequence[Request]] | None = None,
    room: Mapping[str, tuple[Eviction, ...] | None] | None = None,
) -> Fleet:
    names = {r.name for r in residents} | set(waiting or {}) | {"a", "b", "x", "y"}
    table = dict(room) if room is not None else {n: EVICT_A for n in names if n != "a"}
    return Fleet(
        residents=tuple(residents),
        waiting=tuple(Waiting(n, tuple(reqs)) for n, reqs in (waiting or {}).items()),
        profiles={n: PROFILE for n in names},
        room_for=table.get,
    )


def at(*arrivals: float) -> list[Request]:
    return [Request(t) for t in arrivals]


# The residency window (anti-thrash)


def test_a_busy_resident_inside_its_residency_window_is_not_evicted() -> None:
    f = fleet([ready(in_flight=1, queued=2), other("b")], {"b": at(0, 1, 2)})
    choice = next_load(f, now=12, settings=SETTINGS)
    assert choice.load is None and choice.evict == ()
    assert choice.reason == (
        "holding b: a has 1 in flight, 2 queued and has been resident 12 s < min_residency 30 s"
    )


def test_a_busy_resident_past_its_window_is_evicted() -> None:
    f = fleet([ready(in_flight=1, queued=2), other("b")], {"b": at(0, 1, 2)})
    choice = next_load(f, now=40, settings=SETTINGS)
    assert (choice.load, choice.evict, choice.deadline) == ("b", EVICT_A, False)
    assert choice.reason.startswith("loading b: 3 waiting, oldest 40.0 s")
    assert choice.reason.endswith("evicting a (sleep)")


def test_an_idle_resident_inside_its_window_is_evicted() -> None:
    f = fleet([ready(since=10), other("b")], {"b": at(0, 1, 2)})
    assert next_load(f, now=12, settings=SETTINGS).load == "b"


# Deadlines


def test_a_deadline_that_waiting_would_miss_overrides_the_window() -> None:
    # a's drain: 1 in flight half done + 2 queued = 5 s; the switch: 1 + 4 s; ready at 22
    waiting = {"b": [Request(2, deadline=22.5)]}
    f = fleet([ready(in_flight=1, queued=2), other("b")], waiting)
    choice = next_load(f, now=12, settings=SETTINGS)
    assert (choice.load, choice.evict, choice.deadline) == ("b", EVICT_A, True)
    assert choice.reason.startswith(
        "deadline: loading b now, a request waiting 10.0 s would miss its 20.5 s deadline"
    )


@pytest.mark.parametrize("deadline", [30.0, 20.0], ids=["not-yet-due", "already-lost"])
def test_a_deadline_not_yet_due_or_already_lost_does_not_override(deadline: float) -> None:
    f = fleet([ready(in_flight=1, queued=2), other("b")], {"b": [Request(2, deadline)]})
    choice = next_load(f, now=12, settings=SETTINGS)
    assert choice.load is None and "min_residency" in choice.reason


# Value against cost, not arrival order


def test_more_waiting_beats_the_first_to_arrive() -> None:
    f = fleet([ready(), other("x"), other("y")], {"x": at(0), "y": at(5, 6, 7, 8)})
    # x: 2 * 10 = 20 request-seconds; y: 2 * (5 + 4 + 3 + 2) = 28; the same switch cost
    choice = next_load(f, now=10, settings=SETTINGS)
    assert choice.load == "y"
    assert choice.reason.startswith("loading y: 4 waiting, oldest 5.0 s, value 28.0")


def test_a_cheap_switch_beats_a_dear_one_of_more_value() -> None:
    # x sleeps (wake 4 s), y is off (start 20 s): 20 / 5 against 28 / 21
    f = fleet([ready(), other("x")], {"x": at(0), "y": at(5, 6, 7, 8)})
    assert next_load(f, now=10, settings=SETTINGS).load == "x"


def test_too_little_waiting_is_not_worth_the_switch() -> None:
    f = fleet([ready(), other("b")], {"b": at(9)})
    choice = next_load(f, now=10, settings=SETTINGS)
    assert choice.load is None
    assert choice.reason == "holding b: 1 waiting, oldest 1.0 s, value 2.0 < switch cost 5.0 s"


def test_value_is_the_weighted_request_seconds_already_waited() -> None:
    assert value(at(0, 4, 12), now=10, settings=SETTINGS) == pytest.approx(2 * (10 + 6 + 0))
    assert switch_cost(fleet([ready(), other("b")]), "b", EVICT_A) == 5
    assert switch_cost(fleet([ready()]), "b", EVICT_A) == 21  # not asleep: a start


# Joining, room, one switch at a time


@pytest.mark.parametrize("phase", ["ready", "starting", "waking"])
def test_requests_for_a_ready_or_loading_model_join_it_and_never_swap(phase: Phase) -> None:
    f = fleet([ready(), other("b", phase, since=9)], {"b": at(0, 1, 2)})
    choice = next_load(f, now=10, settings=SETTINGS)
    assert choice.load is None and choice.evict == ()
    assert choice.reason == "nothing waits for a load"


def test_a_model_that_fits_as_is_loads_at_once() -> None:
    f = fleet([ready(), other("b")], {"b": at(10)}, room={"b": ()})
    choice = next_load(f, now=10, settings=SETTINGS)
    assert (choice.load, choice.evict) == ("b", ())
    assert choice.reason == "loading b: fits without evicting anything"


def test_only_one_switch_at_a_time() -> None:
    f = fleet([ready(), other("x", "waking", since=9), other("b")], {"b": at(0)})
    choice = next_load(f, now=10, settings=SETTINGS)
    assert choice.load is None
    assert choice.reason == "holding b: one switch at a time (x waking)"


def test_a_model_that_can_never_fit_says_so() -> None:
    f = fleet([ready(), other("b")], {"b": at(0)}, room={"b": None})
    assert next_load(f, now=10, settings=SETTINGS).reason == "b does not fit even after evictions"


# Predicted wait


def test_ready_with_a_free_slot_waits_nothing() -> None:
    prediction = predicted_wait(fleet([ready()]), "a", now=5, settings=SETTINGS)
    assert prediction.seconds == 0


def test_ready_and_full_waits_for_the_queue_ahead() -> None:
    # the one in flight half done (1 s), then two queued of 2 s each
    f = fleet([ready(in_flight=1, queued=2)])
    assert predicted_wait(f, "a", now=5, settings=SETTINGS).seconds == pytest.approx(5)


def test_loading_waits_for_the_rest_of_the_load_then_the_queue() -> None:
    f = fleet([other("a", "waking", since=10, queued=3)])
    assert predicted_wait(f, "a", now=12, settings=SETTINGS).seconds == pytest.approx(2 + 3 * 2)


def test_a_swap_waits_for_the_value_to_pay_for_it_then_the_switch() -> None:
    # a idle: value 2 * t reaches the 5 s switch cost after 2.5 s, then 5 s of switching
    f = fleet([ready(), other("b")])
    assert predicted_wait(f, "b", now=10, settings=SETTINGS).seconds == pytest.approx(7.5)


def test_a_swap_waits_out_the_residency_window_then_the_drain() -> None:
    # a has 41 s of work; the window ends at 30, then the rest (21 s) drains, then the switch
    f = fleet([ready(in_flight=1, queued=20), other("b")])
    prediction = predicted_wait(f, "b", now=10, settings=SETTINGS)
    assert prediction.seconds == pytest.approx(20 + 21 + 5)
    assert "a residency 20.0 s" in prediction.reason


def test_a_swap_waits_for_the_requests_ahead_of_it() -> None:
    f = fleet([ready(), other("b")], {"b": at(0, 0, 0)})
    assert predicted_wait(f, "b", now=10, settings=SETTINGS).seconds == pytest.approx(5 + 3 * 2)


def test_a_swap_waits_for_a_switch_in_progress() -> None:
    f = fleet([ready(), other("x", "waking", since=9), other("b")], {"b": at(0, 0, 0)})
    # x is ready at 13 (woke at 9, 4 s): the start moves from 10 to 13
    assert predicted_wait(f, "b", now=10, settings=SETTINGS).seconds == pytest.approx(3 + 11)


def test_a_deadline_pulls_the_predicted_start_forward_as_next_load_does() -> None:
    f = fleet([ready(), other("b")])
    assert predicted_wait(f, "b", now=10, settings=SETTINGS, deadline=16).seconds == 5
    # and next_load does start it at once for that request
    hurried = fleet([ready(), other("b")], {"b": [Request(10, deadline=16)]})
    assert next_load(hurried, now=10, settings=SETTINGS).deadline


def test_a_deadline_cannot_hurry_the_work_an_evictee_must_finish() -> None:
    f = fleet([ready(in_flight=1, queued=20), other("b")])
    plain = predicted_wait(f, "b", now=10, settings=SETTINGS).seconds
    assert predicted_wait(f, "b", now=10, settings=SETTINGS, deadline=25).seconds == plain


def test_a_model_that_cannot_fit_waits_forever() -> None:
    f = fleet([ready(), other("b")], room={"b": None})
    assert predicted_wait(f, "b", now=10, settings=SETTINGS).seconds == math.inf


def test_every_candidate_of_a_chain_gets_a_prediction_in_order() -> None:
    f = fleet([ready(in_flight=1), other("b")])
    got = predicted_waits(f, ["b", "a"], now=10, settings=SETTINGS)
    assert [p.server for p in got] == ["b", "a"]
    assert got[1].seconds == pytest.approx(1) and got[0].seconds > got[1].seconds
