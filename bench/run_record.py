"""What a benchmark run saves beside its figures: when, on what machine, which code, and how
busy the machine was. These machines are shared: a load average over 1 before a run means
other work shows in its figures, so the run says so at once and records it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def commit() -> str:
    """This checkout's commit, `-dirty` with uncommitted changes."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class Run:
    began: float  # time.monotonic()
    load_before: tuple[float, float, float]

    @classmethod
    def start(cls) -> Run:
        run = cls(time.monotonic(), os.getloadavg())
        if run.load_before[0] > 1.0:
            print(f"warning: load average {run.load_before[0]:.1f} before the run: other work")
            print("         on this machine will show in the figures")
        return run

    def record(self, settings: dict[str, Any], versions: dict[str, str]) -> dict[str, Any]:
        return {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
            "versions": {"python": platform.python_version(), **versions, "modelyard": commit()},
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
            "wall_s": round(time.monotonic() - self.began, 1),
            "load_average": {"before": self.load_before, "after": os.getloadavg()},
        }


def save(report: dict[str, Any], folder: Path, name: str) -> Path:
    """`folder/<name>-<date>.json`."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=1))
    return out
