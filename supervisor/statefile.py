"""The supervisor's memory across its own restarts: which server runs as which process group.

Written after every lifecycle change (atomically and durably: a temp file fsynced, a rename,
the folder fsynced). On start the supervisor reads it back: a recorded group that is still
alive, still runs the same command and answers its health path is adopted; any other live
group it recorded is an orphan and is killed. So `kill -9` of the supervisor followed by a new
start leaves neither duplicates nor orphans. A write that fails (a full disk) is the fleet's
to log: it never stops a lifecycle transition.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True)
class Record:
    name: str
    pid: int
    port: int
    argv: list[str]
    devices: list[str]
    started_at: float
    asleep: bool = False
    # LaunchSpec.fingerprint() of what it runs: adoption compares it with today's rendering.
    fingerprint: str = ""
    container_id: str | None = None  # a `launcher: docker` server's container; pid is its init
    # The level an asleep server sleeps at (2: its weights were dropped, the wake reloads
    # them); None when awake, and in files written before levels (all of those slept at 1).
    sleep_level: int | None = None


def save(path: Path, records: list[Record]) -> None:
    """Replace the file with `records`, durably: the temp file is fsynced before the rename
    and the folder after it, so a power cut leaves the old file or the new one, never an empty
    one. Raises OSError (a full disk) having removed its temp file; the old file stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    data = json.dumps({"servers": [asdict(r) for r in records]}, indent=2).encode()
    try:
        # 0600: a record's argv is the real command, secrets in its flags included
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path) -> list[Record]:
    try:
        data: Any = json.loads(path.read_text())
        return [Record(**entry) for entry in data["servers"]]
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError):
        return []  # torn or foreign: adopt nothing rather than guess


def still_running(record: Record) -> bool:
    """The recorded pid is alive, leads its own group, and runs the recorded command."""
    try:
        proc = psutil.Process(record.pid)
        return (
            proc.status() != psutil.STATUS_ZOMBIE
            and os.getpgid(record.pid) == record.pid
            and proc.cmdline() == record.argv
        )
    except (psutil.Error, ProcessLookupError):
        return False
