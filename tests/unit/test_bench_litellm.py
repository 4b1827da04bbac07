"""The pure parts of bench/litellm_overhead.py (issue 17), so its figures in docs/benchmarks.md
stay honest without running it: the servers it configures (valid for modelyard's schema), the
differences and ratios it draws, the tables it prints, the bare venv's recipe, and how the
remote client interleaves its paths."""

from __future__ import annotations

import asyncio
import math

import pytest

from bench import bare_venv, litellm_client
from bench import litellm_report as report
from modelyard_config.servers import ServerSpec

PYPROJECT = """
[project]
name = "modelyard"
dependencies = ["httpx>=0.27", "uvloop>=0.19"]
[project.optional-dependencies]
litellm = ["litellm==1.106.12"]
"""


def test_a_local_only_config_has_one_cold_instant_server_and_no_remote() -> None:
    found = report.servers(None)
    assert list(found) == [report.LOCAL]
    spec = ServerSpec.model_validate(found[report.LOCAL])
    assert spec.tier == "cold"  # nothing starts with `up`: a start time is the proxy's own
    assert not spec.is_remote
    assert any(part.endswith("instant_upstream.py") for part in spec.command or [])


def test_the_remote_server_calls_the_instant_upstream_on_its_port_through_litellm() -> None:
    found = report.servers(8123)
    assert set(found) == {report.LOCAL, report.REMOTE}
    spec = ServerSpec.model_validate(found[report.REMOTE])
    assert spec.is_remote and spec.remote is not None
    assert spec.remote.model == "openai/instant" == spec.model
    assert spec.remote.api_base == "http://127.0.0.1:8123/v1"
    assert spec.remote.api_key_env == report.KEY_ENV


def test_added_latency_is_the_difference_of_the_medians() -> None:
    figures = report.latency_figures([1.0, 2.0, 3.0, 50.0], [1.5, 2.5, 3.5, 3.6])
    assert figures["direct_ms"]["p50"] == pytest.approx(2.5)
    assert figures["proxy_ms"]["p50"] == pytest.approx(3.0)
    assert figures["added_ms"] == pytest.approx(0.5)
    assert math.isnan(report.ratio(1.0, 0.0))


def _table_rows(table: str) -> list[list[str]]:
    lines = table.splitlines()
    assert lines[1].startswith("|-")
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_the_start_table_gives_medians_ranges_the_ratio_and_the_first_remote_answer() -> None:
    starts = {
        report.BARE: {"start_s": [2.0, 1.0, 3.0]},
        report.EXTRA: {"start_s": [2.2, 2.4, 2.0]},
        report.WITH_REMOTE: {"start_s": [2.1, 2.3, 2.2], "first_remote_s": [9.0, 8.0, 10.0]},
    }
    rows = _table_rows(report.start_table(starts))
    assert rows[0][1:] == ["3", "2.00", "1.00 to 3.00", "1.00", ""]
    assert rows[1][2:5] == ["2.20", "2.00 to 2.40", "1.10"]
    assert rows[2][2] == "2.20" and rows[2][5] == "9.00"


def test_the_local_table_shows_each_variant_added_latency_against_the_bare_one() -> None:
    local = {
        report.BARE: {**report.latency_figures([1.0] * 3, [2.0] * 3), "rss_mb": 150.0},
        report.EXTRA: {**report.latency_figures([1.0] * 3, [2.5] * 3), "errors": 2},
    }
    rows = _table_rows(report.local_table(local))
    assert rows[0][1:] == ["3", "1.000", "2.000", "+1.000", "1.00", "150", "0"]
    assert rows[1][4:] == ["+1.500", "1.50", "-", "2"]


def _path(total: float, ttfb: float | None = None) -> dict[str, dict[str, float]]:
    figures = {"total_ms": {"n": 10.0, "p50": total}}
    return {**figures, "ttfb_ms": {"n": 10.0, "p50": ttfb}} if ttfb is not None else figures


def test_the_remote_table_gives_modelyard_added_latency_over_litellm_called_directly() -> None:
    remote = {
        "plain": {report.DIRECT: _path(1.0), report.SDK: _path(4.0), report.MODELYARD: _path(6.5)},
        "stream": {
            report.DIRECT: _path(1.2, 1.0),
            report.SDK: _path(5.0, 4.0),
            report.MODELYARD: _path(7.0, 6.0),
        },
    }
    rows = _table_rows(report.remote_table(remote))
    assert [row[0] for row in rows] == ["plain"] * 3 + ["stream"] * 3
    assert rows[0][3:] == ["1.000", "-", "+0.000", "-"]
    assert rows[1][3:] == ["4.000", "-", "+3.000", "-"]
    assert rows[2][3:] == ["6.500", "-", "+5.500", "+2.500"]
    assert rows[5][3:] == ["7.000", "6.000", "+5.800", "+2.000"]


def test_the_tables_leave_out_the_parts_a_run_did_not_measure() -> None:
    starts = {report.BARE: {"start_s": [1.0]}}
    text = report.tables({"starts": starts, "local": {}, "remote": {}})
    assert text.startswith("Start (seconds):")
    assert "Remote path" not in text and "Local server" not in text


def test_the_bare_venv_is_rebuilt_when_the_core_dependencies_or_python_change() -> None:
    same = bare_venv.recipe(PYPROJECT, "3.11.7")
    reordered = PYPROJECT.replace('"httpx>=0.27", "uvloop>=0.19"', '"uvloop>=0.19", "httpx>=0.27"')
    assert bare_venv.recipe(reordered, "3.11.7") == same
    assert bare_venv.recipe(PYPROJECT.replace("0.27", "0.28"), "3.11.7") != same
    assert bare_venv.recipe(PYPROJECT, "3.12.1") != same
    extras = PYPROJECT.replace("1.106.12", "1.107.0")  # the extras are never installed in it
    assert bare_venv.recipe(extras, "3.11.7") == same


def test_pip_noise_about_the_absent_local_index_is_dropped_and_errors_kept() -> None:
    noise = "Location '/opt/pypi-more/simple' is ignored: it is neither a file nor a directory."
    assert bare_venv.quiet(f"{noise}\nERROR: no matching distribution\n{noise}") == (
        "ERROR: no matching distribution"
    )


def test_the_remote_client_interleaves_its_paths_in_rotating_rounds() -> None:
    seen: list[tuple[str, bool]] = []

    def call(name: str) -> litellm_client.Call:
        async def answer(stream: bool) -> float | None:
            seen.append((name, stream))
            return 0.001 if stream else None

        return answer

    calls = {name: call(name) for name in ("a", "b", "c")}
    found = asyncio.run(litellm_client.measure(calls, rounds=3, requests=2, warmup=1))
    assert seen[:6] == [(n, s) for s in (False, True) for n in "abc"]  # the warm-up, untimed
    timed = seen[6:]
    firsts = [timed[i][0] for i in range(0, len(timed), 2)]  # each pair: one path's requests
    assert firsts == list("abcabcbcabcacabcab")
    for mode in ("plain", "stream"):
        for name in "abc":
            assert len(found[mode][name]["total_ms"]) == 6
    assert found["plain"]["a"]["ttfb_ms"] == []
    assert found["stream"]["a"]["ttfb_ms"] == [1.0] * 6
