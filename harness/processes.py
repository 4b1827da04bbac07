"""Stopping a process a test or benchmark started, the one way they all should."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def interrupt(proc: subprocess.Popen[Any], grace: float) -> None:
    """SIGINT (modelyard's clean shutdown: drain, then stop its children), and SIGKILL if it
    has not exited within `grace` seconds: never left behind, never waited on for ever."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
