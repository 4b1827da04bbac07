"""`make load`'s whole path, briefly: the real locust (its own venv, built as make load builds
it) runs loadtests/locustfile.py headless for 12 s against a real `modelyard supervisor` and
`modelyard proxy`, through loadtests/run.py (media, warm-up, sampling, summary). The mix's
servers are one harness/fake_vllm.py here (loadtests/fakes.py): the session's stack would
spend minutes on cold vLLM starts, and this test is about the load generator and its report,
not the models (issue 14). Every request must succeed or be refused by design.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from loadtests import locust_venv, run
from loadtests.fakes import fakes_only
from loadtests.mix import LOAD, NAMED_SERVER


def test_locust_runs_the_mix_headless_and_reports_no_failures(tmp_path: Path) -> None:
    try:
        locust_venv.ensure()
    except locust_venv.LocustUnavailable as exc:
        print(f"\nSKIP locust: its venv could not be built: {exc}")
        pytest.skip(f"locust's venv could not be built: {exc}")
    settings = run.Settings(
        seconds=12, users=4, spawn_rate=4, think=0.2, mix="load", together=False, results=tmp_path
    )
    result = run.run(settings, fakes_only)

    stats = result.folder / "locust_stats.csv"
    with stats.open() as file:
        named = {r["Name"]: r for r in csv.DictReader(file)}
    assert int(named["Aggregated"]["Request Count"]) > 50
    assert int(named["Aggregated"]["Failure Count"]) == 0, (
        result.folder / "locust_failures.csv"
    ).read_text()
    assert {r.entry for r in result.rows} <= {e.name for e in LOAD}
    bad = [r for r in result.rows if r.outcome not in ("ok", "designed")]
    assert bad == [], bad[:5]
    assert result.warmed == {NAMED_SERVER: result.warmed[NAMED_SERVER]}
    assert result.warmed[NAMED_SERVER].startswith("ready")
    roles = {s.role for s in result.samples}
    assert {"proxy", "supervisor", "locust", "host"} <= roles
    text = run.report(result)
    assert "auto video" in text and "CPU s per 1,000 req" in text
