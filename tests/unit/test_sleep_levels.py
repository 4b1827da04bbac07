"""The sleep-level policy on plain data (issue 16, "sleep levels that follow the temperature"):
idle level-1 sleepers go to level 2 when their GPU has room to wake them for the move, idle
level-2 sleepers are stopped, and the host-RAM budget demotes the least recently used."""

from __future__ import annotations

from supervisor.sleep_levels import Demotion, Limits, Sleeper, demotions, first_level

GiB = 2**30
LIMITS = Limits(level2_after=600, stop_after=3600, host_budget=None)


def sleeper(name: str, level: int, idle: float, gib: float = 4, room: bool = True) -> Sleeper:
    return Sleeper(name, level, idle, int(gib * GiB), room)


def targets(result: list[Demotion]) -> list[tuple[str, str]]:
    return [(d.name, d.to) for d in result]


def test_nothing_moves_before_its_time() -> None:
    assert demotions([sleeper("a", 1, 599), sleeper("b", 2, 3599)], LIMITS) == []


def test_idle_level_one_goes_to_level_two_and_says_why() -> None:
    (d,) = demotions([sleeper("a", 1, 601)], LIMITS)
    assert d == Demotion("a", "level2", "idle 601 s at level 1, past level2_after 600 s")


def test_idle_level_two_is_stopped() -> None:
    (d,) = demotions([sleeper("a", 2, 3601)], LIMITS)
    assert (d.to, d.reason) == ("stop", "idle 3601 s at level 2, past stop_after 3600 s")


def test_without_gpu_room_a_due_sleeper_waits_at_level_one() -> None:
    (d,) = demotions([sleeper("a", 1, 700, room=False)], LIMITS)
    assert d.to == "wait" and "no GPU room to wake it" in d.reason


def test_level_one_past_both_limits_is_stopped_not_sent_to_level_two() -> None:
    # a level-2 stay would end in the same round: the wake it costs buys nothing
    (d,) = demotions([sleeper("a", 1, 4000, room=False)], LIMITS)
    assert d.to == "stop" and "past level2_after 600 s and stop_after 3600 s" in d.reason


def test_without_level_two_a_level_one_sleeper_is_stopped_after_stop_after() -> None:
    limits = Limits(level2_after=None, stop_after=100, host_budget=None)
    assert demotions([sleeper("a", 1, 99)], limits) == []
    (d,) = demotions([sleeper("a", 1, 101)], limits)
    assert (d.to, d.reason) == ("stop", "idle 101 s at level 1, past stop_after 100 s")


def test_a_level_two_sleeper_that_is_never_stopped_stays() -> None:
    limits = Limits(level2_after=600, stop_after=None, host_budget=None)
    assert demotions([sleeper("a", 2, 10**6)], limits) == []


def test_host_budget_demotes_least_recently_used_until_within() -> None:
    limits = Limits(level2_after=None, stop_after=None, host_budget=5 * GiB)
    sleepers = [sleeper("recent", 1, 10), sleeper("old", 1, 300), sleeper("older", 1, 900)]
    result = demotions(sleepers, limits)
    assert targets(result) == [("older", "level2"), ("old", "level2")]  # 12 -> 8 -> 4 GiB
    assert result[0].reason == (
        "level-1 sleepers hold 12.0 GiB of host RAM, past the budget of 5.0 GiB; "
        "least recently used (idle 900 s)"
    )
    assert "hold 8.0 GiB" in result[1].reason


def test_host_budget_stops_when_there_is_no_room_to_wake_for_level_two() -> None:
    limits = Limits(level2_after=None, stop_after=None, host_budget=5 * GiB)
    result = demotions([sleeper("a", 1, 10), sleeper("b", 1, 20, room=False)], limits)
    assert targets(result) == [("b", "stop")]
    assert result[0].reason.endswith("no GPU room to wake it for level 2")


def test_host_budget_counts_what_idle_rules_already_moved() -> None:
    limits = Limits(level2_after=600, stop_after=3600, host_budget=5 * GiB)
    # "idle" goes to level 2 by idle time: 4 GiB held afterwards, within the budget
    result = demotions([sleeper("idle", 1, 700), sleeper("fresh", 1, 5)], limits)
    assert targets(result) == [("idle", "level2")]


def test_host_budget_overrules_a_wait_for_room() -> None:
    limits = Limits(level2_after=600, stop_after=3600, host_budget=5 * GiB)
    result = demotions([sleeper("due", 1, 700, room=False), sleeper("fresh", 1, 5)], limits)
    assert targets(result) == [("due", "stop")], "one decision per sleeper"


def test_level_two_sleepers_hold_no_host_ram() -> None:
    limits = Limits(level2_after=None, stop_after=None, host_budget=5 * GiB)
    assert demotions([sleeper("a", 2, 10, gib=40), sleeper("b", 1, 5)], limits) == []


def test_pinned_sleepers_never_move_but_their_host_ram_counts() -> None:
    limits = Limits(level2_after=600, stop_after=3600, host_budget=5 * GiB)
    pinned = Sleeper("pinned", 1, 10**6, 4 * GiB, True, pinned=True)
    result = demotions([pinned, sleeper("other", 1, 5)], limits)
    assert targets(result) == [("other", "level2")]


def test_decisions_come_in_name_order_then_budget_order() -> None:
    limits = Limits(level2_after=600, stop_after=3600, host_budget=3 * GiB)
    sleepers = [sleeper("z", 2, 4000), sleeper("b", 1, 700), sleeper("a", 1, 50)]
    sleepers.append(sleeper("c", 1, 100))
    assert targets(demotions(sleepers, limits)) == [
        ("b", "level2"),
        ("z", "stop"),
        ("c", "level2"),  # a (4) + c (4) = 8 GiB > 3: c is the less recent of the two
        ("a", "level2"),
    ]


def test_the_first_sleep_goes_straight_to_level_two_when_already_idle_past_it() -> None:
    assert first_level(599, LIMITS) == 1
    assert first_level(600, LIMITS) == 2
    assert first_level(10**6, Limits(None, 3600, None)) == 1
