"""A server's log file: the banner a launcher writes before each start, reading it back, and
rotating it by size.

Every launcher appends the server's output to one file per server, so a failure report (the
last lines) and `GET /servers/{name}/logs` (bytes from an offset, to follow) read it the same
way whatever ran the server. The monitor rotates it past supervisor.log_max_bytes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections import deque
from pathlib import Path

from supervisor import redact
from supervisor.command import LaunchSpec

CHUNK = 256 * 1024  # at most this much per read_from(): a follower polls for the rest
_TAIL_WINDOW = 64 * 1024  # tail() decodes only the file's end, however long the log grows


def banner(spec: LaunchSpec) -> bytes:
    """The line that separates one start's output from the previous one's; secrets masked."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    command = " ".join(redact.argv(spec.argv))
    return f"\n=== modelyard {stamp} starting {spec.name}: {command}\n".encode()


def backup(path: Path, n: int) -> Path:
    """The n-th older copy of a log: `<name>.log.1` is the newest."""
    return path.with_name(f"{path.name}.{n}")


def rotate(path: Path, max_bytes: int, backups: int) -> bool:
    """Once `path` is over `max_bytes`: shift the copies up (.1 -> .2, dropping the oldest),
    copy it to .1 and truncate it. True if it rotated.

    Copy-then-truncate, not rename: the server keeps writing to the file it opened, also a
    server adopted after a supervisor restart, and only a truncate reaches that open file. It
    opened O_APPEND, so its next write lands at the new end (0), not at its old offset behind
    a hole. What it writes between the copy and the truncate is lost (logrotate's copytruncate
    has the same gap): a few lines at most, against a log that grows without bound.
    """
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    if backups > 0:
        for n in range(backups - 1, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.replace(backup(path, n), backup(path, n + 1))
        shutil.copyfile(path, backup(path, 1))
    os.truncate(path, 0)
    return True


def tail(path: Path, lines: int = 20) -> list[str]:
    """The last `lines` lines; [] when there is no log yet."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL_WINDOW))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line.rstrip() for line in deque(text.splitlines(), maxlen=lines)]


def read_from(path: Path, offset: int) -> tuple[str, int]:
    """Text from `offset` (negative: that many bytes from the end) and the offset to ask for
    next; ("", 0) when there is no log yet."""
    try:
        with path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            start = max(0, end + offset) if offset < 0 else min(offset, end)
            f.seek(start)
            data = f.read(CHUNK)
    except FileNotFoundError:
        return "", 0
    return data.decode("utf-8", errors="replace"), start + len(data)
