"""State-file writes under failure (hardening issue): a write that fails (a full disk) is
logged and never leaves a server stuck in `stopping`; a write that succeeds is durable."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from supervisor import statefile
from supervisor.states import State
from tests.component.supervisor_fakes import FakeGpus, rig, server


def full_disk(src: object, dst: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


async def test_a_failed_state_write_still_lets_the_server_reach_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """os.replace is doubled: a full disk cannot be made safely in a test, and as root a
    read-only folder does not refuse writes."""
    async with rig(tmp_path, {"a": server(3)}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        before = statefile.load(r.fleet.state_file)
        assert [rec.name for rec in before] == ["a"]
        monkeypatch.setattr(statefile.os, "replace", full_disk)
        await r.fleet.stop("a")
        assert r.fleet.get("a").state is State.STOPPED
        assert r.launcher.running() == []
        names = sorted(p.name for p in r.fleet.state_dir.iterdir())
        assert names == ["costs.json", "logs", "servers.json"], "no temp file left behind"
        assert "could not write the state file" in caplog.text
        assert "No space left on device" in caplog.text
        assert statefile.load(r.fleet.state_file) == before, "the last good file stays"
        monkeypatch.undo()
        await r.fleet.ensure("a")  # the next transition writes the whole file again
        assert [rec.pid for rec in statefile.load(r.fleet.state_file)] == [r.fleet.get("a").pid]


def test_a_failed_save_removes_its_temp_file_and_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statefile.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        statefile.save(tmp_path / "servers.json", [])
    assert list(tmp_path.iterdir()) == []


def test_save_fsyncs_the_file_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spy on os.fsync: whether data reached the disk is not observable without pulling
    the power."""
    synced: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append("folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        synced.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(statefile.os, "fsync", fsync)
    monkeypatch.setattr(statefile.os, "replace", replace)
    path = tmp_path / "servers.json"
    statefile.save(path, [])
    assert synced == ["file", "rename", "folder"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "a record's argv holds its secrets"
