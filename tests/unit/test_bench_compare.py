"""The pure parts of `make bench-compare` (issue 14), so its figures stay honest without running
it: percentiles and added latency, the sustained-rate search, the run windows, the nginx and
LiteLLM configs it generates, and the HTTP framing its load generator and instant upstream
speak to each other."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import compare_figures as figures
from bench import compare_report
from bench.hops import litellm_config, nginx_config
from bench.instant_upstream import Answers, Http
from bench.loadgen import Target, _Client, header, processes_for, split


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]
    assert figures.percentile(values, 50) == pytest.approx(50.5)
    assert figures.percentile(values, 99) == pytest.approx(99.01)
    assert figures.percentile(list(reversed(values)), 0) == 1.0
    assert figures.percentile([7.0], 99) == 7.0
    assert math.isnan(figures.percentile([], 50))


def test_added_latency_is_the_path_percentile_minus_the_direct_one() -> None:
    direct = [1.0, 2.0, 3.0, 4.0, 100.0]
    path = [v + 0.5 for v in direct]
    assert figures.added(path, direct) == pytest.approx({"p50": 0.5, "p95": 0.5, "p99": 0.5})
    summary = figures.summary(direct)
    assert summary["n"] == 5 and summary["p50"] == 3.0


def test_the_sustained_rate_is_the_best_before_p99_first_crosses_the_bound() -> None:
    levels = [
        figures.Level(1, 400, 3),
        figures.Level(8, 1500, 12),
        figures.Level(32, 1700, 45),
        figures.Level(64, 1750, 80),  # crosses 50 ms: the search stops here
        figures.Level(128, 1800, 40),  # under the bound again, but past the crossing
    ]
    found = figures.sustained(reversed(levels), bound_ms=50)
    assert found == figures.Sustained(clients=32, rps=1700, crossed_at=64)
    assert figures.sustained(levels[:3], bound_ms=50) == figures.Sustained(32, 1700, None)


def test_no_sustained_rate_when_even_one_client_is_over_the_bound() -> None:
    assert figures.sustained([figures.Level(1, 45, 60), figures.Level(8, 60, 190)], 50) is None
    assert figures.sustained([figures.Level(1, 45, math.nan)], 50) is None


def test_a_slow_path_gets_a_window_long_enough_for_several_answers() -> None:
    assert figures.window(8, None, 0.5, 2.0) == (0.5, 2.0)
    assert figures.window(8, 4000, 0.5, 2.0) == (0.5, 2.0)  # fast: 2 ms a request
    assert figures.window(64, 50, 0.5, 2.0) == pytest.approx((1.92, 5.12))  # 1.28 s each
    assert figures.window(128, 5, 0.5, 2.0) == (6.0, 10.0)  # capped


def test_cpu_per_thousand_requests() -> None:
    assert figures.per_thousand(0.65, 1000) == pytest.approx(0.65)
    assert math.isnan(figures.per_thousand(1.0, 0))


def test_nginx_config_keeps_upstream_connections_and_streams_unbuffered(tmp_path: Path) -> None:
    conf = nginx_config(tmp_path, {18001: 9001}, floor=(18002, b'{"ok": 1}'))
    assert "listen 127.0.0.1:18001;" in conf and "server 127.0.0.1:9001;" in conf
    assert "proxy_pass http://up9001;" in conf
    for directive in (
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "keepalive 64;",
        "proxy_buffering off;",
        "worker_processes 1;",
        "access_log off;",
    ):
        assert directive in conf
    assert "listen 127.0.0.1:18002;" in conf and "return 200 '{\"ok\": 1}';" in conf
    assert f"pid {tmp_path / 'nginx.pid'};" in conf
    assert f"proxy_temp_path {tmp_path / 'proxy'};" in conf
    assert conf.count("{") == conf.count("}")


def test_nginx_floor_body_cannot_break_out_of_its_quotes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        nginx_config(tmp_path, {}, floor=(18002, b"it's"))


def test_litellm_config_points_each_model_at_the_same_upstream() -> None:
    config = litellm_config({"instant": "http://127.0.0.1:9001/v1"})
    assert config == {
        "model_list": [
            {
                "model_name": "instant",
                "litellm_params": {
                    "model": "openai/instant",
                    "api_base": "http://127.0.0.1:9001/v1",
                    "api_key": "none",
                },
            }
        ]
    }


def test_clients_are_spread_over_processes() -> None:
    assert [processes_for(c) for c in (1, 8, 15, 32, 64, 128, 512)] == [1, 1, 1, 2, 4, 4, 4]
    assert split(128, 4) == [32, 32, 32, 32]
    assert split(10, 4) == [3, 3, 2, 2]
    assert split(2, 4) == [1, 1]


def test_a_request_is_framed_with_its_length() -> None:
    request = Target("127.0.0.1", 9001, "/v1/chat/completions", b'{"a": 1}').request()
    head, body = request.split(b"\r\n\r\n")
    assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert header(head.lower(), b"content-length") == b"8" and body == b'{"a": 1}'
    assert header(b"http/1.1 200 ok\r\ncontent-length: 12", b"content-length") == b"12"
    assert header(b"http/1.1 200 ok", b"content-length") is None


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def _upstream(data: bytes) -> tuple[Http, _Transport]:
    server, transport = Http(Answers("instant")), _Transport()
    server.connection_made(transport)
    for i in range(len(data)):  # byte by byte: every split point of the requests
        server.data_received(data[i : i + 1])
    return server, transport


def _post(body: dict[str, Any], chunked: bool = False) -> bytes:
    raw = json.dumps(body).encode()
    if not chunked:
        return Target("h", 1, "/v1/chat/completions", raw).request()
    framing = b"%x\r\n%s\r\n0\r\n\r\n" % (len(raw), raw)
    return b"POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n" + framing


def test_the_instant_upstream_answers_pipelined_and_chunked_requests_in_order() -> None:
    requests = _post({"model": "m", "messages": []}) + _post(
        {"model": "m", "stream": True}, chunked=True
    )
    requests += b"GET /health HTTP/1.1\r\nconnection: close\r\n\r\n"
    _, transport = _upstream(requests)
    answers = bytes(transport.written).split(b"HTTP/1.1 200 OK")[1:]
    assert len(answers) == 3
    assert b'"content": "ok"' in answers[0] and b'"model": "m"' in answers[0]
    assert b"transfer-encoding: chunked" in answers[1] and b"data: [DONE]" in answers[1]
    assert answers[1].endswith(b"0\r\n\r\n") and transport.closed


def test_the_instant_upstream_refuses_a_body_that_is_not_json() -> None:
    _, transport = _upstream(Target("h", 1, "/v1/chat/completions", b"[1").request())
    assert transport.written.startswith(b"HTTP/1.1 400")


@pytest.mark.parametrize("stream", [False, True])
async def test_the_load_generator_reads_each_answer_to_its_last_byte(stream: bool) -> None:
    _, upstream = _upstream(_post({"model": "m", "stream": stream}))
    answer = bytes(upstream.written)
    client = _Client()
    client.connection_made(_Transport())
    done = client.send(b"request")
    for i in range(len(answer) - 1):
        client.data_received(answer[i : i + 1])
        assert not done.done()
    assert client.first_byte > 0
    client.data_received(answer[-1:])
    assert done.done() and done.result() is True and client.reusable


def _cell(rps: float, p99: float, added: dict[str, float], cpu: float = 0.0) -> dict[str, Any]:
    return {
        "rps": rps,
        "errors": 0,
        "completed": 1000,
        "latency_ms": {"p50": p99 / 2, "p95": p99, "p99": p99},
        "ttfb_ms": {"p50": 1.0, "p95": 1.0, "p99": 1.0},
        "added_ms": added,
        "added_ttfb_ms": added,
        "proxy_cpu_s": {"1": cpu},
        "loadgen_cpu_us": 30.0,
    }


def test_the_targets_are_judged_on_the_measured_figures() -> None:
    small = {"p50": 0.8, "p95": 2.0, "p99": 2.5}
    nginx = {"p50": 0.5, "p95": 0.6, "p99": 1.0}
    slow = {"p50": 130.0, "p95": 180.0, "p99": 190.0}
    zero = {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    grid = {
        "direct": {"8": _cell(5000, 5, zero), "32": _cell(6000, 9, zero)},
        "modelyard": {"8": _cell(1500, 8, small, 0.2), "32": _cell(1600, 20, small, 0.2)},
        "litellm": {"8": _cell(60, 190, slow), "32": _cell(65, 600, slow)},
        "nginx": {"8": _cell(4000, 6, nginx), "32": _cell(4200, 10, nginx)},
    }
    report = {
        "instant": {"plain": grid, "stream": grid},
        "rss_mb": {"modelyard": {"1": 120.0}, "litellm": {"2": 400.0}, "nginx": {"3": 9.0}},
        "ceiling": {"nginx_return_200": {"8": {"rps": 9000.0}, "32": {"rps": 10000.0}}},
    }
    summary = compare_report.summarize(report, bound_ms=50)
    met = {t["target"]: t["met"] for t in summary["targets"]}
    assert met["added p50 at 8 clients (ms)"] and met["added p99 at 8 clients (ms)"]
    assert met["proxy CPU per request (ms, non-streamed)"]  # 0.4 s over 2,000 requests
    assert met["sustained req/s vs LiteLLM's (plain)"]  # LiteLLM is never under 50 ms here
    assert met["added p50 at 8 clients vs nginx's (times)"]  # 0.8 <= 2 x 0.5
    assert summary["sustained"]["plain"]["modelyard"]["rps"] == 1600
    assert summary["share_of_loadgen_ceiling"]["nginx"] == pytest.approx(0.44, abs=0.01)
