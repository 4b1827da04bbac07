"""The scheduler inside the fleet (`policy: modelyard`), on the fakes: switch costs learned from
transitions and kept across restarts, a busy resident kept for its residency window, an evictee
drained before it goes, a load held until it is worth its switch unless the resident is stale,
a deadline that overrides the window, and the predicted waits the proxy reads.

Switch-cost priors are set to fractions of a second so that the value rule (a load waits
until age_weight x waiting seconds reach the switch cost) plays out within a test.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor import fleet as fleet_module
from supervisor import scheduling
from supervisor.engine import Load
from supervisor.errors import CapacityError
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, Rig, rig, server, until

ONE_GPU = 10  # 8 GiB plannable: two 5 GiB servers never fit together
FAST = {"start": 0.2, "wake": 0.1, "sleep": 0.1, "stop": 0.1}


def modelyard(**scheduler: Any) -> dict[str, Any]:
    return {"scheduler": {"policy": "modelyard", **scheduler}}


def two(tier: str = "cold", costs: dict[str, float] | None = None) -> dict[str, Any]:
    return {n: server(5, tier, switch_costs=costs or FAST) for n in ("a", "b")}


def busy(r: Rig, name: str, in_flight: int = 1) -> None:
    """What the monitor would read from a server with `in_flight` requests running."""
    s = r.fleet.get(name)
    assert s.base_url is not None
    load = Load(in_flight=in_flight, served=0)
    r.engine.loads[s.base_url] = load
    s.usage.observe_load(load)


async def test_switch_costs_are_learned_from_transitions_and_kept_across_restarts(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard()) as r:
        await r.fleet.ensure("a")
        await r.fleet.stop("a")
        costs = r.fleet.describe(r.fleet.get("a"))["costs"]
        assert costs["start"]["observed"] == costs["stop"]["observed"] == 1
        assert costs["wake"]["observed"] == 0 and costs["wake"]["seconds"] == FAST["wake"]
        # a start on the fakes takes milliseconds: the estimate moved from the prior towards it
        assert costs["start"]["seconds"] < FAST["start"]
        learned = costs["start"]["seconds"]
        gauge = r.count("modelyard_switch_seconds", server="a", kind="start")
        assert gauge == pytest.approx(learned, abs=1e-3)
        # the same start, in the start-to-ready histogram (the Grafana dashboard's quantiles)
        assert r.count("modelyard_load_seconds_count", server="a") == 1
    saved = json.loads((tmp_path / "state" / "costs.json").read_text())
    assert saved["servers"]["a"]["start"]["count"] == 1
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard()) as again:
        kept = again.fleet.describe(again.fleet.get("a"))["costs"]["start"]
        assert kept["observed"] == 1 and kept["seconds"] == pytest.approx(learned, abs=1e-3)


async def test_a_corrupt_costs_file_falls_back_to_the_priors(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "costs.json").write_text("{not json")
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard()) as r:
        costs = r.fleet.describe(r.fleet.get("b"))["costs"]
        assert {k: v["seconds"] for k, v in costs.items()} == FAST
        await r.fleet.ensure("a")  # and the supervisor works on


async def test_a_busy_resident_is_kept_for_its_residency_window(tmp_path: Path) -> None:
    async with rig(
        tmp_path, two(), FakeGpus(ONE_GPU), queue_timeout=0.6, **modelyard(min_residency=60)
    ) as r:
        await r.fleet.ensure("a")
        busy(r, "a")
        with pytest.raises(CapacityError) as caught:
            await r.fleet.ensure("b")
        assert "min_residency" in caught.value.reason
        assert r.fleet.get("a").state is State.READY
        # the predicted wait: a's one request is taken as half done (service_s 1 s), then the
        # switch; so a client is told to come back in about that, not the window's 60 s
        retry = caught.value.retry_after
        assert retry is not None and 1 <= retry <= 3, retry
        assert r.count("modelyard_evictions_total", server="a", action="stop") == 0


async def test_an_evictee_drains_its_work_and_takes_no_new_request_meanwhile(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard(min_residency=0)) as r:
        await r.fleet.ensure("a")
        busy(r, "a")
        load_b = asyncio.create_task(r.fleet.ensure("b"))
        await until(lambda: "a" in r.fleet.schedule_report()["draining"], "a to drain")
        assert r.fleet.schedule_report()["draining"]["a"]["for"] == "b"
        another_a = asyncio.create_task(r.fleet.ensure("a"))
        await until(lambda: r.fleet.room.count("a") == 1, "the new request for a to wait")
        assert not another_a.done() and r.fleet.get("a").state is State.READY
        busy(r, "a", in_flight=0)  # its last request finished
        await load_b
        assert r.fleet.get("b").state is State.READY
        assert r.count("modelyard_drains_total", server="a") == 1
        assert r.count("modelyard_evictions_total", server="a", action="stop") == 1
        another_a.cancel()  # it now waits for b, as a new load
        await asyncio.gather(another_a, return_exceptions=True)


async def test_a_drain_past_its_timeout_evicts_anyway(tmp_path: Path) -> None:
    settings = modelyard(min_residency=0, drain_timeout=0.3)
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **settings) as r:
        await r.fleet.ensure("a")
        busy(r, "a")
        began = time.monotonic()
        await r.fleet.ensure("b")
        assert time.monotonic() - began >= 0.3, "it waited for the drain first"
        assert r.fleet.get("a").state is State.STOPPED


async def test_a_load_waits_until_worth_its_switch_while_the_resident_was_just_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "just used" (its requests may still be on their way to the engine) lasts 0.1 s here
    monkeypatch.setattr(scheduling, "JUST_USED_S", 0.1)
    costs = {"start": 1.0, "wake": 0.1, "sleep": 0.1, "stop": 0.2}  # a switch: 1.2 s
    async with rig(tmp_path, two(costs=costs), FakeGpus(ONE_GPU), **modelyard()) as r:
        await r.fleet.ensure("a")  # used recently (within min_residency): demand to protect
        used = r.fleet.get("a").usage.last_used
        await until(lambda: time.monotonic() - used > 0.15, "a to be past 'just used'")
        began = time.monotonic()
        load_b = asyncio.create_task(r.fleet.ensure("b"))
        await until(lambda: "holding b" in r.fleet.decision, "the scheduler to hold b")
        assert "switch cost 1.2 s" in r.fleet.decision
        await load_b
        waited = time.monotonic() - began
        # value = age_weight (2) x age reaches 1.2 s at 0.6 s
        assert waited >= 0.55, f"loaded after {waited:.2f} s"
        assert r.fleet.get("a").state is State.STOPPED


async def test_a_load_goes_at_once_when_the_resident_has_been_idle_long_enough(
    tmp_path: Path,
) -> None:
    costs = {"start": 60.0, "wake": 5.0, "sleep": 2.0, "stop": 5.0}  # a long hold otherwise
    settings = modelyard(min_residency=0.2)
    async with rig(tmp_path, two(costs=costs), FakeGpus(ONE_GPU), **settings) as r:
        await r.fleet.ensure("a")
        used = r.fleet.get("a").usage.last_used
        await until(lambda: time.monotonic() - used > 0.25, "a to be idle past min_residency")
        await asyncio.wait_for(r.fleet.ensure("b"), 2.0)
        assert "idle for 0 s or more" in r.fleet.decision or "idle" in r.fleet.decision


async def test_a_deadline_overrides_the_residency_window(tmp_path: Path) -> None:
    async with rig(
        tmp_path, two(), FakeGpus(ONE_GPU), queue_timeout=5, **modelyard(min_residency=60)
    ) as r:
        await r.fleet.ensure("a")
        busy(r, "a", in_flight=0)
        r.fleet.get("a").usage.observe_in_flight(1)  # busy by the last reading...
        r.engine.loads[r.fleet.get("a").base_url or ""] = Load(in_flight=0, served=1)
        began = time.monotonic()
        # ...and a request for b that will not wait more than 1.5 s: the switch (0.3 s) must
        # begin before its deadline minus the slack, within the window a would otherwise get
        await r.fleet.ensure("b", max_wait=1.5)
        assert time.monotonic() - began < 1.5
        assert r.fleet.get("b").state is State.READY
        assert "deadline" in r.fleet.decision


async def test_max_wait_gives_up_with_the_predicted_wait_and_leaves_the_room(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard(min_residency=60)) as r:
        await r.fleet.ensure("a")
        busy(r, "a")
        began = time.monotonic()
        with pytest.raises(CapacityError) as caught:
            await r.fleet.ensure("b", max_wait=0.3)
        assert time.monotonic() - began < 1.0
        assert "max wait of 0.3 s" in caught.value.reason
        assert caught.value.retry_after is not None and caught.value.retry_after > 1
        assert r.fleet.room.count("b") == 0
        assert r.count("modelyard_waiting_requests", server="b") == 0


async def test_waits_say_ready_now_or_the_predicted_seconds(tmp_path: Path) -> None:
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard(min_residency=60)) as r:
        await r.fleet.ensure("a")
        waits = {w["server"]: w for w in r.fleet.waits(["a", "b"])}
        assert waits["a"]["ready"] is True and waits["a"]["seconds"] == 0
        assert waits["b"]["ready"] is False and waits["b"]["seconds"] > 0
        assert "switch" in waits["b"]["reason"]
        listed = {s["name"]: s for s in r.fleet.describe_all()}
        assert listed["b"]["predicted_wait"]["seconds"] == waits["b"]["seconds"]


async def test_a_max_wait_past_the_queue_timeout_is_no_limit(tmp_path: Path) -> None:
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), **modelyard()) as r:
        await r.fleet.ensure("a", max_wait=1e9)  # a client's "a long time" must not break it
        assert r.fleet.get("a").state is State.READY


async def test_a_variant_serves_while_the_full_model_would_evict_a_busy_server(
    tmp_path: Path,
) -> None:
    """Fit by variant: 8 GiB plannable; `other` (3 GiB) is busy, so `full` (6 GiB) does not
    fit without evicting it, but its 3 GiB variant does; once `other` is idle, `full` itself
    is loaded again (its variant, idle, makes room)."""
    servers = {
        "full": server(6, variants=["small"]),
        "small": server(3, served_name="full"),
        "other": server(3),
    }
    async with rig(tmp_path, servers, FakeGpus(ONE_GPU)) as r:  # policy arrival: at once
        await r.fleet.ensure("other")
        busy(r, "other")
        answer = await r.fleet.ensure("full")
        assert (answer["name"], answer["variant_of"]) == ("small", "full")
        assert r.fleet.get("small").state is State.READY
        assert r.fleet.get("full").state is State.STOPPED
        assert r.fleet.get("other").state is State.READY, "the busy server kept its place"
        counted = r.count("modelyard_variant_placements_total", server="full", variant="small")
        assert counted == 1
        again = await r.fleet.ensure("full")  # the variant is ready: it answers again
        assert again["name"] == "small"
        busy(r, "other", in_flight=0)
        back = await r.fleet.ensure("full")
        assert back["name"] == "full" and "variant_of" not in back
        assert r.fleet.get("full").state is State.READY


async def test_a_server_used_a_moment_ago_is_not_evicted_under_its_requests(
    tmp_path: Path,
) -> None:
    """Its waiters were just handed its address: their requests may not have reached the
    engine, whose in-flight count still says 0. The residency window keeps it."""
    settings = modelyard(min_residency=60)
    async with rig(tmp_path, two(), FakeGpus(ONE_GPU), queue_timeout=0.5, **settings) as r:
        await r.fleet.ensure("a")
        with pytest.raises(CapacityError) as caught:
            await r.fleet.ensure("b")
        assert "min_residency" in caught.value.reason
        assert r.fleet.get("a").state is State.READY


async def test_the_schedule_lists_the_oldest_waiting_and_counts_them_all(tmp_path: Path) -> None:
    async with rig(
        tmp_path, two(), FakeGpus(ONE_GPU), queue_timeout=5, **modelyard(min_residency=60)
    ) as r:
        await r.fleet.ensure("a")
        busy(r, "a")
        shown = fleet_module.SHOWN
        waiters = [asyncio.create_task(r.fleet.ensure("b")) for _ in range(shown + 5)]
        await until(lambda: r.fleet.room.count("b") == shown + 5, "every request to wait")
        report = r.fleet.schedule_report()
        assert len(report["waiting"]["b"]) == shown
        assert report["waiting_count"]["b"] == shown + 5
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        assert r.fleet.room.count("b") == 0, "a caller that goes away leaves the room"
