"""A venv with modelyard's core dependencies only, no extras: the "without LiteLLM" side of
bench/litellm_overhead.py (issue 17). The project's .venv has the `litellm` extra, so a proxy
measured from it can only show that LiteLLM is not imported, not what a machine without the
package pays; this one cannot import it at all, and says so before it is used.

`pip install -e <checkout>`, so both venvs run the same working tree. The venv keeps a stamp
of its recipe (Python version and the core dependency list from pyproject.toml): a rerun with
the same recipe is a no-op, a changed one rebuilds it.

    python bench/bare_venv.py        # build or check it; prints its python
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE_VENV = Path(os.environ.get("MODELYARD_HOME", "~/.cache/modelyard")).expanduser() / (
    "bare-venv"
)
STAMP = ".modelyard-recipe"
# This machine's pip warns once per package about an absent local index (the Makefile's
# QUIET_PIP drops the same lines).
PIP_NOISE = "is ignored: it is neither a file nor a directory"
# Run in the venv once built: modelyard's entry points import.
IMPORTS = "import modelyard.cli, proxy.app, supervisor.api"
# Run on every use: a later `pip install` into it would make the comparison a lie.
NO_LITELLM = "import importlib.util, sys; sys.exit(importlib.util.find_spec('litellm') is not None)"


def recipe(pyproject: str, python: str) -> str:
    """What the venv is built from, in one line: a change to any part rebuilds it."""
    deps = tomllib.loads(pyproject)["project"]["dependencies"]
    digest = hashlib.sha256(json.dumps(sorted(deps)).encode()).hexdigest()[:16]
    return f"v1 python {python}, pip install -e {ROOT} (no extras), dependencies {digest}"


def quiet(lines: str) -> str:
    return "\n".join(line for line in lines.splitlines() if PIP_NOISE not in line)


def _pip(venv: Path, *args: str) -> None:
    done = subprocess.run(
        [str(venv / "bin" / "pip"), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{quiet(done.stdout + done.stderr)}")


def ensure(venv: Path = BARE_VENV) -> Path:
    """The venv's python, built first unless its stamp matches the recipe."""
    wanted = recipe((ROOT / "pyproject.toml").read_text(), platform.python_version())
    stamp, python = venv / STAMP, venv / "bin" / "python"
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        print(f"building {venv} (core dependencies only); a minute or two once", flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        _pip(venv, "install", "--quiet", "--upgrade", "pip")
        _pip(venv, "install", "--quiet", "-e", str(ROOT))
        subprocess.run([str(python), "-c", IMPORTS], check=True)
        stamp.write_text(wanted + "\n")
    if subprocess.run([str(python), "-c", NO_LITELLM], check=False).returncode != 0:
        raise RuntimeError(f"{venv} can import litellm: it is no venv without the extra")
    return python


if __name__ == "__main__":
    print(ensure())
