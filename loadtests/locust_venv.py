"""Locust's own venv, built once under MODELYARD_HOME (default ~/.cache/modelyard/locust-venv).

Locust lives apart from the project's venv: it brings gevent (which monkey-patches the
standard library in the process that imports it), greenlet, Flask, Werkzeug, pyzmq and a
dozen more, none of which the project needs, and `make load` only ever runs it as a separate
process. The venv is rebuilt when the pinned requirement changes (a stamp file records it), so
calling `ensure()` again is a no-op taking milliseconds.

    python -m loadtests.locust_venv      # build it (or say where it is)
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from supervisor import paths

REQUIREMENT = "locust==2.47.0"


class LocustUnavailable(Exception):
    """The venv could not be built (no registry reachable, a failed install); says why."""


def location() -> Path:
    return paths.home() / "locust-venv"


def locust_bin(where: Path | None = None) -> Path:
    return (where or location()) / "bin" / "locust"


def ensure(where: Path | None = None) -> Path:
    """The `locust` executable, building its venv first when missing or stale."""
    where = where or location()
    stamp = where / ".modelyard-requirement"
    if stamp.exists() and stamp.read_text() == REQUIREMENT and locust_bin(where).exists():
        return locust_bin(where)
    venv.EnvBuilder(with_pip=True, clear=True).create(where)
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = subprocess.run([*pip, REQUIREMENT], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-2000:]
        raise LocustUnavailable(f"pip install {REQUIREMENT} into {where} failed:\n{tail}")
    stamp.write_text(REQUIREMENT)
    return locust_bin(where)


def main() -> None:
    try:
        print(ensure())
    except LocustUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
