"""Balancing among equals (issue 16): the order a group's members are tried in for each
request, and what the balancer learns from the requests it sees (in flight, latency, who is
ready). Pure policy first, then the balancer with a clock of its own and no network."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.responses import Response, StreamingResponse

from modelyard_config import Config, parse_config
from proxy.balance import ASK_EVERY, FORGET_AFTER, NOISE, TIE, Balancer, Member, order
from proxy.classify.features import extract
from proxy.resolve import Plan, Target, plan
from supervisor.errors import AdminUnreachableError


def ready(name: str, in_flight: int = 0, latency: float | None = None) -> Member:
    return Member(name, True, in_flight, latency)


def asleep(name: str) -> Member:
    return Member(name, False)


# --- the policy -------------------------------------------------------------------------


def test_ready_members_come_before_the_rest() -> None:
    members = [asleep("a"), ready("b"), asleep("c")]
    assert order(members, 0) == ("b", "a", "c")


def test_members_not_known_ready_keep_the_config_order_whatever_the_turn() -> None:
    members = [asleep("a"), asleep("b"), asleep("c")]
    assert {order(members, turn) for turn in range(5)} == {("a", "b", "c")}


def test_a_ready_member_is_first_however_busy_and_slow_it_is() -> None:
    members = [asleep("a"), ready("b", in_flight=50, latency=9.0)]
    assert order(members, 0)[0] == "b"


def test_the_least_work_in_flight_goes_first() -> None:
    members = [ready("a", in_flight=3), ready("b", in_flight=1), ready("c", in_flight=2)]
    assert order(members, 0) == ("b", "c", "a")


def test_less_work_in_flight_beats_a_better_latency() -> None:
    members = [ready("fast", in_flight=2, latency=0.01), ready("slow", in_flight=1, latency=1.0)]
    assert order(members, 0) == ("slow", "fast")


def test_among_equally_busy_members_the_faster_goes_first() -> None:
    members = [ready("a", latency=2.0), ready("b", latency=0.1), ready("c", latency=1.0)]
    assert {order(members, turn) for turn in range(3)} == {("b", "c", "a")}


def test_equal_members_take_turns() -> None:
    members = [ready("a"), ready("b")]
    assert [order(members, turn)[0] for turn in range(4)] == ["a", "b", "a", "b"]


def test_three_equal_members_take_turns_in_config_order() -> None:
    members = [ready("a"), ready("b"), ready("c")]
    assert [order(members, turn)[0] for turn in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_latencies_within_the_tie_band_are_equal() -> None:
    members = [ready("a", latency=1.0), ready("b", latency=(1.0 * (1 + TIE) + NOISE) * 0.99)]
    assert [order(members, turn)[0] for turn in range(4)] == ["a", "b", "a", "b"]


def test_a_latency_past_the_tie_band_is_not_equal() -> None:
    members = [ready("a", latency=1.0), ready("b", latency=(1.0 * (1 + TIE) + NOISE) * 1.01)]
    assert [order(members, turn)[0] for turn in range(4)] == ["a"] * 4


def test_milliseconds_apart_is_noise_not_a_difference() -> None:
    # measured on loopback: a first connection took 4.8 ms, the next answers 1.5-3 ms
    members = [ready("a", latency=0.0048), ready("b", latency=0.0016)]
    assert [order(members, turn)[0] for turn in range(4)] == ["a", "b", "a", "b"]


def test_an_unmeasured_member_ranks_with_the_fastest_so_it_gets_measured() -> None:
    members = [ready("a", latency=0.05), ready("new")]
    assert [order(members, turn)[0] for turn in range(2)] == ["a", "new"]


def test_the_tie_band_is_measured_within_one_in_flight_count() -> None:
    # c and d are equal; b's better latency at another load does not break their tie
    members = [
        ready("b", in_flight=1, latency=0.01),
        ready("c", latency=1.0),
        ready("d", latency=1.2),
    ]
    firsts = {order(members, turn)[0] for turn in range(3)}
    assert firsts == {"c", "d"}


def test_round_robin_only_among_the_ready() -> None:
    members = [asleep("a"), ready("b"), ready("c")]
    assert [order(members, turn) for turn in range(2)] == [("b", "c", "a"), ("c", "b", "a")]


# --- the balancer over plans ------------------------------------------------------------


def config() -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}, "b": {"model": "m"}, "small": {"model": "s"}},
            "routes": {"agent": ["pool", "small"], "plain": ["small", "a"]},
            "groups": {"pool": ["a", "b"]},
            "classifier": {"intents": {"agent": {}}, "default": "agent"},
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plan_for(cfg: Config, route: str) -> Plan:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    return plan(cfg, Target(route, "route", route), extract("/v1/chat/completions", body))


def balancer(known: set[str] | None = None, clock: Clock | None = None, **kw: Any) -> Balancer:
    known = set() if known is None else known
    return Balancer(config(), known.__contains__, clock=clock or Clock(), **kw)


def test_a_plan_without_a_group_is_passed_through_untouched() -> None:
    p = plan_for(config(), "plain")
    assert balancer().order(p) is p


def test_a_group_plan_is_ordered_then_final_and_the_chain_goes_on() -> None:
    b = balancer(known={"a", "b"})
    p = plan_for(config(), "agent")
    assert p.candidates == ("a", "b", "small") and p.groups
    first, second = b.order(p), b.order(p)
    assert (first.candidates, second.candidates) == (("a", "b", "small"), ("b", "a", "small"))
    assert first.groups == ()


def test_the_turn_counter_is_per_group() -> None:
    cfg = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {n: {"model": "m"} for n in ("a", "b", "c", "d")},
            "routes": {"agent": ["p"], "two": ["q"]},
            "groups": {"p": ["a", "b"], "q": ["c", "d"]},
        }
    )
    b = Balancer(cfg, lambda s: True, clock=Clock())
    picks = [b.order(plan_for(cfg, r)).candidates[0] for r in ("agent", "two", "agent", "two")]
    assert picks == ["a", "c", "b", "d"]


def test_a_plan_whose_candidates_were_replaced_is_left_as_it_is() -> None:
    b = balancer(known={"a", "b"})
    b.order(plan_for(config(), "agent"))  # turn 1 would put b first
    p = plan_for(config(), "agent")
    pinned = Plan(p.requested, p.intent, p.route, ("a",), groups=p.groups)
    assert b.order(pinned).candidates == ("a",)


def test_a_member_known_ready_is_preferred_to_one_that_is_not() -> None:
    b = balancer(known={"b"})
    assert [b.order(plan_for(config(), "agent")).candidates for _ in range(2)] == [
        ("b", "a", "small")
    ] * 2


# --- what the balancer learns from requests ---------------------------------------------


async def answer(status: int = 200, clock: Clock | None = None, took: float = 0.0) -> Response:
    if clock is not None:
        clock.now += took
    return Response(b"{}", status_code=status)


async def test_a_non_member_is_not_wrapped_at_all() -> None:
    pending = answer()
    assert balancer().timed("small", pending) is pending
    await pending


async def test_a_whole_answer_is_in_flight_only_while_it_is_awaited() -> None:
    b, gate = balancer(), asyncio.Event()

    async def held() -> Response:
        await gate.wait()
        return Response(b"{}")

    task: asyncio.Future[Response] = asyncio.ensure_future(b.timed("a", held()))
    async with asyncio.timeout(5):
        while b.member("a", 0).in_flight == 0:
            await asyncio.sleep(0)
    assert not task.done()
    gate.set()
    await task
    assert b.member("a", 0).in_flight == 0


async def test_a_failed_forward_is_no_longer_in_flight() -> None:
    b = balancer()

    async def refused() -> Response:
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await b.timed("a", refused())
    assert b.member("a", 0).in_flight == 0


async def chunks() -> AsyncIterator[bytes]:
    yield b"data: 1\n\n"
    yield b"data: [DONE]\n\n"


async def test_a_stream_is_in_flight_until_its_last_chunk() -> None:
    b = balancer()
    response = await b.timed("a", _stream())
    assert isinstance(response, StreamingResponse)
    assert b.member("a", 0).in_flight == 1
    assert [c async for c in response.body_iterator] == [b"data: 1\n\n", b"data: [DONE]\n\n"]
    assert b.member("a", 0).in_flight == 0


async def test_a_stream_dropped_unsent_is_not_in_flight_for_ever() -> None:
    b = balancer()
    response = await b.timed("a", _stream())
    assert b.member("a", 0).in_flight == 1
    del response
    gc.collect()
    assert b.member("a", 0).in_flight == 0


async def test_a_stream_cut_by_its_client_is_no_longer_in_flight() -> None:
    b = balancer()
    response = await b.timed("a", _stream())
    assert isinstance(response, StreamingResponse)
    body = response.body_iterator
    assert isinstance(body, AsyncIterator)
    await anext(body)
    await body.aclose()  # type: ignore[attr-defined]
    assert b.member("a", 0).in_flight == 0


async def _stream() -> Response:
    return StreamingResponse(chunks(), media_type="text/event-stream")


async def test_latency_is_an_average_of_the_answers_that_succeeded() -> None:
    clock = Clock()
    b = balancer(clock=clock)
    await b.timed("a", answer(clock=clock, took=1.0))
    assert b.member("a", clock.now).latency == pytest.approx(1.0)
    await b.timed("a", answer(clock=clock, took=2.0))
    assert b.member("a", clock.now).latency == pytest.approx(1.3)
    await b.timed("a", answer(500, clock=clock, took=10.0))
    await b.timed("a", answer(400, clock=clock, took=10.0))
    assert b.member("a", clock.now).latency == pytest.approx(1.3)


async def test_a_latency_not_measured_again_is_forgotten() -> None:
    clock = Clock()
    b = balancer(clock=clock)
    await b.timed("a", answer(clock=clock, took=5.0))
    clock.now += FORGET_AFTER
    assert b.member("a", clock.now).latency is None
    await b.timed("a", answer(clock=clock, took=0.1))  # a fresh start, not averaged with 5 s
    assert b.member("a", clock.now).latency == pytest.approx(0.1)


async def test_a_member_measured_slow_gets_nothing_until_its_latency_is_forgotten() -> None:
    clock = Clock()
    b = balancer(known={"a", "b"}, clock=clock)
    await b.timed("a", answer(clock=clock, took=0.01))
    await b.timed("b", answer(clock=clock, took=1.0))
    picks = [b.order(plan_for(config(), "agent")).candidates[0] for _ in range(4)]
    assert picks == ["a"] * 4
    clock.now += FORGET_AFTER
    await b.timed("a", answer(clock=clock, took=0.01))
    picks = [b.order(plan_for(config(), "agent")).candidates[0] for _ in range(4)]
    assert set(picks) == {"a", "b"}


# --- who is ready: the supervisor's word, asked in the background -----------------------


class States:
    """The supervisor's word on each server (its admin API's `server`), and who was asked;
    a server it does not list cannot be asked about (the supervisor is down)."""

    def __init__(self, states: dict[str, str]) -> None:
        self.states = states
        self.asked: list[str] = []

    async def server(self, name: str) -> dict[str, Any]:
        self.asked.append(name)
        if name not in self.states:
            raise AdminUnreachableError("http://supervisor", "refused")
        return {"name": name, "state": self.states[name]}


async def answered(states: States, count: int) -> None:
    """Until `count` questions have been answered: the balancer keeps each answer as it comes,
    with no await in between, so by then it knows them all."""
    async with asyncio.timeout(5):
        while len(states.asked) < count:
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # the last answer's own step


async def test_members_the_supervisor_says_are_ready_count_as_ready() -> None:
    clock = Clock()
    states = States({"a": "ready", "b": "ready"})
    b = balancer(clock=clock, states=states)
    assert b.order(plan_for(config(), "agent")).candidates[0] == "a"  # config order meanwhile
    await answered(states, 2)
    assert states.asked == ["a", "b"]
    picks = [b.order(plan_for(config(), "agent")).candidates[0] for _ in range(4)]
    assert set(picks) == {"a", "b"}


async def test_an_asleep_member_comes_after_a_ready_one() -> None:
    clock = Clock()
    states = States({"a": "asleep", "b": "ready"})
    b = balancer(clock=clock, states=states)
    b.order(plan_for(config(), "agent"))
    await answered(states, 2)
    picks = [b.order(plan_for(config(), "agent")).candidates for _ in range(3)]
    assert picks == [("b", "a", "small")] * 3


async def test_the_supervisor_is_asked_at_most_every_few_seconds_per_group() -> None:
    clock = Clock()
    states = States({"a": "ready", "b": "ready"})
    b = balancer(clock=clock, states=states)
    for _ in range(5):
        b.order(plan_for(config(), "agent"))
    await answered(states, 2)
    b.order(plan_for(config(), "agent"))
    clock.now += ASK_EVERY * 0.99
    b.order(plan_for(config(), "agent"))
    clock.now += ASK_EVERY * 0.01
    b.order(plan_for(config(), "agent"))
    await answered(states, 4)
    assert states.asked == ["a", "b", "a", "b"]


async def test_the_supervisors_ready_is_believed_only_a_while() -> None:
    clock = Clock()
    states = States({"a": "asleep", "b": "ready"})
    b = balancer(clock=clock, states=states)
    b.order(plan_for(config(), "agent"))
    await answered(states, 2)
    assert b.member("b", clock.now).ready
    clock.now += 2 * ASK_EVERY
    assert not b.member("b", clock.now).ready


async def test_a_supervisor_that_cannot_be_asked_leaves_the_members_unknown() -> None:
    states = States({})
    b = balancer(states=states)
    b.order(plan_for(config(), "agent"))
    await answered(states, 2)
    assert b.order(plan_for(config(), "agent")).candidates == ("a", "b", "small")


async def test_a_member_the_supervisor_now_says_asleep_is_no_longer_ready() -> None:
    clock = Clock()
    states = States({"a": "ready", "b": "ready"})
    b = balancer(clock=clock, states=states)
    b.order(plan_for(config(), "agent"))
    await answered(states, 2)
    assert b.member("b", clock.now).ready
    states.states["b"] = "asleep"
    clock.now += ASK_EVERY
    b.order(plan_for(config(), "agent"))
    await answered(states, 4)
    assert not b.member("b", clock.now).ready
    assert b.member("a", clock.now).ready


async def test_closing_cancels_a_question_in_flight() -> None:
    gate = asyncio.Event()

    class Slow:
        async def server(self, name: str) -> dict[str, Any]:
            await gate.wait()
            return {"state": "ready"}

    b = balancer(states=Slow())
    b.order(plan_for(config(), "agent"))
    await asyncio.sleep(0)
    await asyncio.wait_for(b.aclose(), 5)
    assert not b.member("a", 0).ready
