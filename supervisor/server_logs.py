"""A server's log file: the banner a launcher writes before each start, and reading it back.

Every launcher appends the server's output to one file per server, so a failure report (the
last lines) and `GET /servers/{name}/logs` (bytes from an offset, to follow) read it the same
way whatever ran the server.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

from supervisor.command import LaunchSpec

CHUNK = 256 * 1024  # at most this much per read_from(): a follower polls for the rest
_TAIL_WINDOW = 64 * 1024  # tail() decodes only the file's end, however long the log grows


def banner(spec: LaunchSpec) -> bytes:
    """The line that separates one start's output from the previous one's."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    return f"\n=== modelyard {stamp} starting {spec.name}: {' '.join(spec.argv)}\n".encode()


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
