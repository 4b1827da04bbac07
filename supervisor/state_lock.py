"""One supervisor per state directory, for as long as it lives.

Adoption kills every recorded group that its own config does not name, so two supervisors on
one state directory would kill each other's servers. Before it reads the state file, a
supervisor takes an exclusive flock on `supervisor.lock` there and writes its pid into it; a
second one finds the lock held and refuses to start, naming the holder. The kernel drops the
lock when its holder dies (kill -9 included), so a stale lock never blocks a restart. The
file descriptor is not inherited (Python opens it close-on-exec), so a server kept running
past its supervisor's exit (supervisor.keep_servers) does not keep the lock with it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from supervisor.errors import StateDirInUseError

LOCK_NAME = "supervisor.lock"


class StateLock:
    """Held from acquire() until release() or the process's end."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateDirInUseError(state_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd: int | None = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the flock


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 64, 0).decode().strip())
    return None
