"""Placement and eviction policy on simulated device tables: no processes, no clock."""

from __future__ import annotations

import pytest

from supervisor.capacity import (
    Device,
    Eviction,
    NoFit,
    Placement,
    Resident,
    Tier,
    Want,
    expired,
    headroom,
    never_fits,
    plan,
    planned,
)

G = 2**30


def gpu(key: str, ceiling_gib: float = 80, used_gib: float = 0) -> Device:
    return Device(key=key, total=100 * G, used=int(used_gib * G), ceiling=int(ceiling_gib * G))


def res(
    name: str,
    devices: tuple[str, ...] | str = "gpu0",
    gib: float = 10,
    tier: Tier = "warm",
    *,
    pinned: bool = False,
    in_flight: int = 0,
    last_used: float = 0.0,
    awake: bool = True,
    busy: bool = False,
) -> Resident:
    return Resident(
        name=name,
        devices=(devices,) if isinstance(devices, str) else devices,
        budget=int(gib * G),
        tier=tier,
        pinned=pinned,
        in_flight=in_flight,
        last_used=last_used,
        awake=awake,
        busy=busy,
    )


def want(gib: float = 10, n: int = 1, name: str = "new", tier: Tier = "warm") -> Want:
    return Want(name=name, budget=int(gib * G), devices_needed=n, tier=tier)


def placed(result: Placement | NoFit) -> Placement:
    assert isinstance(result, Placement), result
    return result


def refused(result: Placement | NoFit) -> NoFit:
    assert isinstance(result, NoFit), result
    return result


# planned / headroom


def test_planned_counts_only_awake_residents_on_that_device() -> None:
    residents = [
        res("a", "gpu0", 10),
        res("b", ("gpu0", "gpu1"), 5),
        res("asleep", "gpu0", 30, awake=False),
        res("elsewhere", "gpu1", 7),
    ]
    assert planned("gpu0", residents) == 15 * G
    assert planned("gpu1", residents) == 12 * G
    assert planned("gpu2", residents) == 0


def test_headroom_takes_the_larger_of_planned_and_live_used() -> None:
    residents = [res("a", "gpu0", 30)]
    # Promised but not allocated yet: planned wins.
    assert headroom(gpu("gpu0", 80, used_gib=5), residents) == 50 * G
    # Foreign processes push used past planned: used wins.
    assert headroom(gpu("gpu0", 80, used_gib=45), residents) == 35 * G
    # Over the ceiling already: negative, never clamped into a false "room".
    assert headroom(gpu("gpu0", 80, used_gib=90), []) == -10 * G


# fitting without eviction


def test_fits_without_eviction_on_the_tightest_gpu_that_still_holds_it() -> None:
    devices = [gpu("gpu0"), gpu("gpu1"), gpu("gpu2"), gpu("gpu3")]
    residents = [
        res("a", "gpu1", 60),  # 20 left: fits, tightest
        res("b", "gpu2", 75),  # 5 left: too small
        res("c", "gpu3", 40),  # 40 left: fits, roomier
    ]
    assert plan(devices, residents, want(15)) == Placement(("gpu1",), ())


def test_best_fit_ties_go_to_the_device_listed_first() -> None:
    devices = [gpu("gpu2"), gpu("gpu0"), gpu("gpu1")]
    assert placed(plan(devices, [], want(10))).devices == ("gpu2",)


def test_budget_exactly_at_the_ceiling_fits() -> None:
    device = Device("gpu0", total=100, used=0, ceiling=80)
    assert plan([device], [], Want("m", 80, 1, "warm")) == Placement(("gpu0",), ())


def test_one_byte_over_the_ceiling_never_fits() -> None:
    device = Device("gpu0", total=100, used=0, ceiling=80)
    result = refused(plan([device], [], Want("m", 81, 1, "warm")))
    assert result.never


def test_one_byte_over_the_remaining_headroom_waits_instead_of_overcommitting() -> None:
    device = Device("gpu0", total=100, used=0, ceiling=80)
    holder = Resident("p", ("gpu0",), 30, "warm", True, 0, 0.0, True)
    assert placed(plan([device], [holder], Want("m", 50, 1, "warm"))).devices == ("gpu0",)
    result = refused(plan([device], [holder], Want("m", 51, 1, "warm")))
    assert not result.never


def test_live_used_above_planned_blocks_placement_and_is_named() -> None:
    # Nothing of ours is planned, but a foreign process holds 70 GiB under an 80 GiB ceiling.
    result = refused(plan([gpu("gpu0", 80, used_gib=70)], [], want(20)))
    assert not result.never
    assert "not planned by us" in result.reason


def test_planned_budget_not_yet_allocated_still_blocks_placement() -> None:
    # A server is starting: NVML shows nothing yet, but its budget is promised.
    starting = res("starting", "gpu0", 70, busy=True)
    result = refused(plan([gpu("gpu0", 80, used_gib=1)], [starting], want(20)))
    assert "starting" in result.reason and "busy" in result.reason


def test_asleep_residents_hold_no_gpu_memory_and_are_not_victims() -> None:
    sleepers = [res("s1", "gpu0", 60, awake=False), res("s2", "gpu0", 60, awake=False)]
    assert plan([gpu("gpu0")], sleepers, want(70)) == Placement(("gpu0",), ())


# eviction


def test_eviction_takes_cold_before_warm_even_when_warm_is_older() -> None:
    residents = [
        res("warm-old", "gpu0", 40, "warm", last_used=1),
        res("cold-new", "gpu0", 40, "cold", last_used=100),
    ]
    result = placed(plan([gpu("gpu0")], residents, want(30)))
    assert result.evictions == (Eviction("cold-new", "stop"),)


def test_eviction_takes_the_least_recently_used_within_a_tier() -> None:
    residents = [
        res("recent", "gpu0", 40, last_used=50),
        res("stale", "gpu0", 40, last_used=10),
    ]
    result = placed(plan([gpu("gpu0")], residents, want(30)))
    assert result.evictions == (Eviction("stale", "sleep"),)


def test_eviction_stops_after_as_many_victims_as_needed_in_value_order() -> None:
    residents = [res(f"c{i}", "gpu0", 20, "cold", last_used=i) for i in range(4)]
    result = placed(plan([gpu("gpu0")], residents, want(35)))
    # 80 - 4*20 = 0 free; 35 needs two victims, the two least recently used, oldest first.
    assert result.evictions == (Eviction("c0", "stop"), Eviction("c1", "stop"))


def test_a_victim_made_redundant_by_a_later_bigger_one_is_spared() -> None:
    residents = [
        res("small-cold", "gpu0", 5, "cold"),
        res("big-warm", "gpu0", 70, "warm"),
    ]
    # 5 free; 30 needed. small-cold alone is not enough, big-warm alone is: keep small-cold.
    result = placed(plan([gpu("gpu0")], residents, want(30)))
    assert result.evictions == (Eviction("big-warm", "sleep"),)


def test_eviction_frees_a_victims_budget_from_live_used_too() -> None:
    # 60 GiB of ours plus 15 GiB foreign are in use; stopping ours leaves the foreign 15.
    residents = [res("c", "gpu0", 60, "cold")]
    result = placed(plan([gpu("gpu0", 80, used_gib=75)], residents, want(65)))
    assert result.evictions == (Eviction("c", "stop"),)
    assert isinstance(plan([gpu("gpu0", 80, used_gib=75)], residents, want(66)), NoFit)


def test_eviction_prefers_the_device_that_needs_fewest_victims() -> None:
    residents = [
        res("a0", "gpu0", 30, "cold"),
        res("a1", "gpu0", 30, "cold"),
        res("b", "gpu1", 60, "warm", last_used=99),
    ]
    result = placed(plan([gpu("gpu0"), gpu("gpu1")], residents, want(60)))
    assert result == Placement(("gpu1",), (Eviction("b", "sleep"),))


def test_eviction_count_tie_goes_to_the_device_with_the_less_valuable_victim() -> None:
    residents = [
        res("warm-on-0", "gpu0", 60, "warm", last_used=0),
        res("cold-on-1", "gpu1", 60, "cold", last_used=99),
    ]
    result = placed(plan([gpu("gpu0"), gpu("gpu1")], residents, want(60)))
    assert result == Placement(("gpu1",), (Eviction("cold-on-1", "stop"),))


def test_plan_does_not_depend_on_the_order_residents_are_listed() -> None:
    residents = [res(f"r{i}", f"gpu{i % 2}", 30, "cold", last_used=i % 3) for i in range(6)]
    devices = [gpu("gpu0", 90), gpu("gpu1", 90)]
    assert plan(devices, residents, want(50)) == plan(devices, residents[::-1], want(50))


def test_warm_victims_sleep_and_cold_victims_stop_in_eviction_order() -> None:
    residents = [res("w", "gpu0", 40, "warm"), res("c", "gpu0", 40, "cold")]
    result = placed(plan([gpu("gpu0")], residents, want(80)))
    assert result.evictions == (Eviction("c", "stop"), Eviction("w", "sleep"))


def test_warm_victim_on_the_host_is_stopped_since_sleep_frees_no_host_memory() -> None:
    host = Device("host", total=64 * G, used=0, ceiling=48 * G)
    residents = [res("w", "host", 40, "warm")]
    result = placed(plan([host], residents, want(20)))
    assert result == Placement(("host",), (Eviction("w", "stop"),))


@pytest.mark.parametrize(
    ("holder", "why"),
    [
        (res("h", "gpu0", 70, "cold", pinned=True), "pinned"),
        (res("h", "gpu0", 70, "cold", in_flight=2), "2 in flight"),
        (res("h", "gpu0", 70, "cold", busy=True), "busy"),
        (res("h", "gpu0", 70, "hot"), "hot"),
    ],
)
def test_unevictable_holder_is_never_a_victim_and_is_named(holder: Resident, why: str) -> None:
    result = refused(plan([gpu("gpu0")], [holder], want(20)))
    assert not result.never
    assert "h " in result.reason and why in result.reason


@pytest.mark.parametrize(
    "holder",
    [
        res("old", "gpu0", 40, "cold", pinned=True),
        res("old", "gpu0", 40, "cold", in_flight=1),
        res("old", "gpu0", 40, "cold", busy=True),
        res("old", "gpu0", 40, "hot"),
    ],
)
def test_unevictable_holder_is_passed_over_for_a_more_valuable_idle_one(
    holder: Resident,
) -> None:
    # The unevictable one is colder-or-older, so it would be chosen first if it were eligible.
    residents = [holder, res("idle-warm", "gpu0", 40, "warm", last_used=100)]
    result = placed(plan([gpu("gpu0")], residents, want(30)))
    assert result.evictions == (Eviction("idle-warm", "sleep"),)


# tensor parallel


def test_tensor_parallel_needs_distinct_devices_each_with_room() -> None:
    devices = [gpu("gpu0"), gpu("gpu1"), gpu("gpu2")]
    residents = [res("a", "gpu1", 60, pinned=True)]
    assert plan(devices, residents, want(30, n=2)) == Placement(("gpu0", "gpu2"), ())


def test_tensor_parallel_best_fit_picks_the_tightest_devices() -> None:
    devices = [gpu(f"gpu{i}") for i in range(4)]
    residents = [res("a", "gpu1", 50, pinned=True), res("b", "gpu3", 45, pinned=True)]
    assert placed(plan(devices, residents, want(30, n=2))).devices == ("gpu1", "gpu3")


def test_tensor_parallel_victim_is_one_eviction_that_frees_every_device() -> None:
    devices = [gpu("gpu0"), gpu("gpu1")]
    residents = [res("tp", ("gpu0", "gpu1"), 60, "cold"), res("x", "gpu0", 10, "cold")]
    result = placed(plan(devices, residents, want(50, n=2)))
    assert result == Placement(("gpu0", "gpu1"), (Eviction("tp", "stop"),))


def test_tensor_parallel_does_not_evict_from_a_device_that_already_fits() -> None:
    devices = [gpu("gpu0"), gpu("gpu1")]
    residents = [
        res("on-1-older", "gpu1", 20, "cold", last_used=0),
        res("on-0", "gpu0", 60, "cold", last_used=5),
    ]
    result = placed(plan(devices, residents, want(40, n=2)))
    assert result.evictions == (Eviction("on-0", "stop"),)


def test_tensor_parallel_waits_when_only_one_device_can_be_freed() -> None:
    devices = [gpu("gpu0"), gpu("gpu1")]
    residents = [res("c", "gpu0", 70, "cold"), res("p", "gpu1", 70, pinned=True)]
    result = refused(plan(devices, residents, want(40, n=2)))
    assert not result.never and "pinned" in result.reason


# never


def test_budget_over_every_ceiling_never_fits() -> None:
    result = refused(plan([gpu("gpu0", 80), gpu("gpu1", 60)], [], want(81)))
    assert result.never


def test_more_devices_than_exist_never_fits() -> None:
    result = refused(plan([gpu("gpu0"), gpu("gpu1")], [], want(10, n=4)))
    assert result.never and "4" in result.reason


def test_never_fits_counts_only_devices_with_a_large_enough_ceiling() -> None:
    devices = [gpu("gpu0", 80), gpu("gpu1", 40)]
    assert never_fits(devices, 50 * G, 1) is None
    assert never_fits(devices, 40 * G, 2) is None
    assert never_fits(devices, 50 * G, 2) is not None
    assert never_fits(devices, 81 * G, 1) is not None
    assert never_fits(devices, 1, 3) is not None
    assert never_fits(devices, 1, 0) is not None


def test_never_fits_ignores_current_usage() -> None:
    # Full right now is a reason to wait, not a configuration error.
    assert never_fits([gpu("gpu0", 80, used_gib=80)], 80 * G, 1) is None


# the wanted server itself


def test_plan_for_an_awake_resident_returns_its_devices_unchanged() -> None:
    devices = [gpu("gpu0"), gpu("gpu1")]
    residents = [res("new", ("gpu1",), 80), res("c", "gpu0", 10, "cold")]
    assert plan(devices, residents, want(80)) == Placement(("gpu1",), ())


def test_an_asleep_resident_can_only_wake_on_its_own_devices() -> None:
    devices = [gpu("gpu0"), gpu("gpu1")]
    residents = [res("new", "gpu1", 30, awake=False), res("c", "gpu1", 70, "cold")]
    result = placed(plan(devices, residents, want(30)))
    assert result == Placement(("gpu1",), (Eviction("c", "stop"),))


def test_an_asleep_resident_blocked_on_its_own_device_waits_though_another_is_free() -> None:
    devices = [gpu("gpu0"), gpu("gpu1")]
    residents = [res("new", "gpu1", 30, awake=False), res("p", "gpu1", 70, pinned=True)]
    result = refused(plan(devices, residents, want(30)))
    assert not result.never and "gpu1" in result.reason


# idle TTL


def test_expired_applies_ttl_only_to_idle_evictable_servers() -> None:
    residents = [
        res("b-cold", tier="cold", last_used=0),
        res("a-warm", tier="warm", last_used=0),
        res("exactly-at-ttl", tier="warm", last_used=40),
        res("fresh", last_used=90),
        res("no-ttl", last_used=0),
        res("unlisted", last_used=0),
        res("hot", tier="hot", last_used=0),
        res("flight", in_flight=1, last_used=0),
        res("pinned", pinned=True, last_used=0),
        res("busy", busy=True, last_used=0),
        res("asleep", awake=False, last_used=0),
    ]
    ttl: dict[str, float | None] = {r.name: 60.0 for r in residents if r.name != "unlisted"}
    ttl["no-ttl"] = None
    assert expired(residents, now=100.0, ttl=ttl) == [
        Eviction("a-warm", "sleep"),
        Eviction("b-cold", "stop"),
        Eviction("exactly-at-ttl", "sleep"),
    ]


def test_expired_warm_server_on_the_host_is_stopped() -> None:
    assert expired([res("w", "host", last_used=0)], now=10.0, ttl={"w": 5.0}) == [
        Eviction("w", "stop")
    ]
