"""The supervisor's state file: round trip, torn files, and what counts as still running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from harness.stack import wait_for
from supervisor import statefile
from supervisor.statefile import Record


def record(**kw: object) -> Record:
    base: dict[str, object] = dict(
        name="a", pid=1, port=8100, argv=["x"], devices=["gpu0"], started_at=1.0
    )
    return Record(**{**base, **kw})  # type: ignore[arg-type]


def test_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    path = tmp_path / "state" / "servers.json"
    statefile.save(path, [record(), record(name="b", asleep=True)])
    assert statefile.load(path) == [record(), record(name="b", asleep=True)]
    assert [p.name for p in path.parent.iterdir()] == ["servers.json"]  # no temp left


def test_missing_or_torn_file_adopts_nothing(tmp_path: Path) -> None:
    assert statefile.load(tmp_path / "absent.json") == []
    torn = tmp_path / "servers.json"
    torn.write_text('{"servers": [{"name": "a", "pid"')
    assert statefile.load(torn) == []


def test_still_running_needs_the_same_command_and_its_own_group() -> None:
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    proc = subprocess.Popen(argv, start_new_session=True)
    try:
        # until the child has exec'd, its command line is still ours (seen on a loaded box)
        wait_for(lambda: psutil.Process(proc.pid).cmdline() == argv, 10, "the child to exec")
        assert statefile.still_running(record(pid=proc.pid, argv=argv))
        assert not statefile.still_running(record(pid=proc.pid, argv=[*argv, "other"]))
        assert not statefile.still_running(record(pid=os.getpid(), argv=argv))
    finally:
        proc.kill()
        proc.wait()
    assert not statefile.still_running(record(pid=proc.pid, argv=argv))
