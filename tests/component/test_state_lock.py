"""One supervisor per state directory (hardening issue: two instances on one machine killed
each other's servers through adoption). The lock is a real flock between real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor.state_lock import StateDirInUseError, StateLock

HOLDER = """
import sys, time
from pathlib import Path
from supervisor.state_lock import StateLock
lock = StateLock(Path(sys.argv[1]))
print("locked", flush=True)
time.sleep(60)
"""


def holders(path: Path) -> list[str]:
    """Processes with `path` open: /proc/*/fd, as lsof would list them."""
    found = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        with contextlib.suppress(OSError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == str(path):
                        cmdline = (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                        found.append(f"{fd_dir.parent.name}: {cmdline.decode(errors='replace')}")
    return found


def test_a_second_lock_names_the_folder_the_holder_and_the_way_out(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(StateDirInUseError) as refused:
            StateLock(tmp_path)
        message = str(refused.value)
        assert str(tmp_path) in message
        assert f"pid {holder.pid}" in message
        assert "supervisor.state_dir" in message
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        StateLock(tmp_path).release()  # the kernel dropped a dead holder's lock: no stale lock
    finally:
        holder.kill()
        holder.wait()


def test_a_released_lock_can_be_taken_again_and_holds_our_pid(tmp_path: Path) -> None:
    first = StateLock(tmp_path / "state")
    assert first.path.read_text().strip() == str(os.getpid())
    with pytest.raises(StateDirInUseError):
        StateLock(tmp_path / "state")
    first.release()
    StateLock(tmp_path / "state").release()


def test_a_child_started_while_locked_does_not_keep_the_lock(tmp_path: Path) -> None:
    """A server left running (supervisor.keep_servers) must not block the next supervisor."""
    lock = StateLock(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], close_fds=False)
    try:
        lock.release()
        assert child.poll() is None, "the child still runs"
        assert holders(lock.path) == [], "only a child could hold the lock now"
        StateLock(tmp_path).release()
    finally:
        child.kill()
        child.wait()
