"""The supervisor's memory across its own restarts: which server runs as which process group.

Written after every lifecycle change (atomically: a temp file, then rename). On start the
supervisor reads it back: a recorded group that is still alive, still runs the same command
and answers its health path is adopted; any other live group it recorded is an orphan and is
killed. So `kill -9` of the supervisor followed by a new start leaves neither duplicates nor
orphans.
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


def save(path: Path, records: list[Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps({"servers": [asdict(r) for r in records]}, indent=2))
    os.replace(tmp, path)


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
