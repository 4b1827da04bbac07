"""How the load test judges what it saw (loadtests/outcomes.py, summary.py, soak_report.py):
designed refusals apart from errors, streams that end well or with an error event, the
fallbacks read from x-modelyard-tried, the soak's growth check and which stream errors an
injected fault explains (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from harness.stack import stack_config
from loadtests import soak
from loadtests.mix import SLOW_ROUTE
from loadtests.outcomes import hops, judge
from loadtests.request_log import Row
from loadtests.sampler import Sample
from loadtests.soak_faults import CYCLE, SLOW_SERVER, Fault, schedule
from loadtests.soak_report import explained, growth, judged
from loadtests.summary import fallback_counts, markdown, percentile
from modelyard_config import load_config

CHAT = json.dumps({"choices": [{"message": {"content": "hi"}}]}).encode()


def error(code: str) -> bytes:
    return json.dumps({"error": {"message": "m", "type": "server_error", "code": code}}).encode()


def stream(*events: object) -> bytes:
    return b"".join(
        f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode() for e in events
    )


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome"),
    [
        (200, {}, CHAT, "ok"),
        (200, {}, b'{"choices": []}', "failed"),
        (429, {}, error("rate_limit_exceeded"), "designed"),
        (503, {}, error("capacity_unavailable"), "designed"),
        (503, {}, error("draining"), "designed"),
        (503, {"retry-after": "3"}, error("all_candidates_failed"), "designed"),
        (503, {}, error("all_candidates_failed"), "failed"),
        (500, {}, error("internal_error"), "failed"),
        (0, {}, b"", "failed"),
    ],
)
def test_refusals_by_design_are_apart_from_errors(
    status: int, headers: dict[str, str], body: bytes, outcome: str
) -> None:
    assert judge("chat", status, headers, body).outcome == outcome


def test_a_stream_must_end_with_done_and_an_error_event_is_told_apart() -> None:
    chunk = {"choices": [{"delta": {"content": "t"}}]}
    assert judge("stream", 200, {}, stream(chunk, "[DONE]")).outcome == "ok"
    assert judge("stream", 200, {}, stream(chunk)).outcome == "failed"
    assert judge("stream", 200, {}, stream("[DONE]")).outcome == "failed"
    cut = stream(chunk, {"error": {"code": "upstream_died"}}, "[DONE]")
    assert judge("stream", 200, {}, cut).outcome == "stream_error"


def test_audio_and_pooling_answers_are_checked_for_shape() -> None:
    assert judge("audio", 200, {"content-type": "audio/wav"}, b"RIFF").outcome == "ok"
    assert judge("audio", 200, {"content-type": "application/json"}, b"{}").outcome == "failed"
    embedded = json.dumps({"data": [{"embedding": [0.1]}]}).encode()
    assert judge("embedding", 200, {}, embedded).outcome == "ok"
    assert judge("rerank", 200, {}, b'{"results": []}').outcome == "ok"
    assert judge("transcript", 200, {}, b'{"text": "hello"}').outcome == "ok"
    assert judge("route", 200, {}, b'{"intent": "agent", "route": "agent"}').outcome == "ok"


def test_fallbacks_are_moves_between_servers_not_retries_on_one() -> None:
    assert hops("tiny-qwen-a:ok") == []
    assert hops("a:connect,a:connect,b:ok") == [("a", "b", "connect")]
    assert hops("x:y:5xx,z:ok") == [("x:y", "z", "5xx")]  # names may hold ':'
    assert hops("") == []


def test_fallbacks_are_read_from_the_proxys_metrics() -> None:
    text = (
        "# HELP modelyard_fallbacks_total Moves\n"
        'modelyard_fallbacks_total{from="a",reason="connect",to="b"} 3.0\n'
        'modelyard_fallbacks_created{from="a",reason="connect",to="b"} 1.7e9\n'
    )
    assert fallback_counts(text) == {("a", "b", "connect"): 3}


def test_percentiles_and_tables() -> None:
    assert percentile([5.0], 99) == 5.0
    assert percentile([float(v) for v in range(1, 101)], 50) == pytest.approx(50.5)
    table = markdown(["a", "bb"], [["1", "2"]]).splitlines()
    assert table == ["| a | bb |", "|---|----|", "| 1 | 2  |"]


def row(t: float, outcome: str, model: str = "tiny-qwen-a") -> Row:
    return Row(t, "chat named stream", 200, outcome, 1.0, 1.0, model, "", "", "", "", "")


def test_a_stream_cut_is_designed_only_when_a_fault_hit_its_server_just_before() -> None:
    kill = Fault(at=30, kind="kill", target="tiny-qwen-a", done_at=1000.0)
    assert explained(row(1010, "stream_error"), [kill])
    assert not explained(row(990, "stream_error"), [kill])  # before the fault
    assert not explained(row(1010, "stream_error", model="tiny-qwen-b"), [kill])
    assert not explained(row(1100, "stream_error"), [kill])  # long after
    outcomes = [
        r.outcome for r in judged([row(1010, "stream_error"), row(990, "stream_error")], [kill])
    ]
    assert outcomes == ["designed", "failed"]


def samples(role: str, rss: list[float], fds: list[int]) -> list[Sample]:
    return [
        Sample(float(i), role, r, 0.0, f, 1) for i, (r, f) in enumerate(zip(rss, fds, strict=True))
    ]


def test_growth_compares_the_first_and_last_fifths() -> None:
    steady = samples("proxy", [100.0 + i % 3 for i in range(50)], [30 + i % 4 for i in range(50)])
    assert not any(g.grew for g in growth(steady))
    leaking = samples("supervisor", [100.0 + i * 2 for i in range(50)], [30 + i for i in range(50)])
    assert [g.measure for g in growth(leaking) if g.grew] == ["RSS MB", "open FDs"]


def test_the_schedule_cycles_faults_through_the_run() -> None:
    short = schedule(180)
    assert [f.at for f in short.faults] == [20.0, 65.0, 110.0]
    long = schedule(1800)
    assert len(long.faults) == 10 and long.faults[-1].at <= 1800 * 0.85
    assert {f.kind for f in long.faults} == {"kill", "stop", "stall"}


def test_the_soaks_config_is_valid_and_routes_its_slow_upstream(tmp_path: Path) -> None:
    config = stack_config(tmp_path / "state")
    soak.configure(config)
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(config))
    loaded = load_config(path)  # raises ConfigError, naming the key, when it is not
    assert loaded.routes[SLOW_ROUTE] == [SLOW_SERVER, "tiny-qwen-b"]
    assert {target for _, target in CYCLE} <= set(loaded.servers)
