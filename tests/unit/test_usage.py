"""A server's usage as load readings report it: the first reading is a baseline, a moved
served counter or requests in flight count as a use, and a pre-eviction check only updates
whether it is busy."""

from __future__ import annotations

from supervisor.engine import Load
from supervisor.usage import Usage


def test_the_first_reading_is_a_baseline_not_a_use() -> None:
    usage = Usage(pinned=False)
    before = usage.last_used
    usage.observe_load(Load(in_flight=0, served=40))
    assert (usage.served, usage.in_flight, usage.last_used) == (40, 0, before)


def test_a_moved_counter_or_requests_in_flight_count_as_a_use() -> None:
    usage = Usage(pinned=False)
    usage.observe_load(Load(in_flight=0, served=40))
    baseline = usage.last_used
    usage.observe_load(Load(in_flight=0, served=40))
    assert usage.last_used == baseline, "nothing happened"
    usage.observe_load(Load(in_flight=0, served=41))
    moved = usage.last_used
    assert moved > baseline
    usage.observe_load(Load(in_flight=2, served=41))
    assert usage.last_used > moved and usage.in_flight == 2


def test_a_point_check_before_eviction_records_only_the_in_flight_count() -> None:
    usage = Usage(pinned=False)
    usage.observe_load(Load(in_flight=0, served=40))
    baseline = usage.last_used
    usage.observe_in_flight(3)
    assert (usage.in_flight, usage.served, usage.last_used) == (3, 40, baseline)


def test_pin_and_unpin() -> None:
    usage = Usage(pinned=True)
    usage.unpin()
    assert not usage.pinned
    usage.pin()
    assert usage.pinned
