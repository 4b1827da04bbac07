"""Where modelyard keeps what outlives one run: the engine venv, built models, logs.

Everything sits under MODELYARD_HOME (default ~/.cache/modelyard), outside the checkout, so
every clone on a machine shares one 3.4 GB engine venv and one set of tiny models.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("MODELYARD_HOME", "~/.cache/modelyard")).expanduser()


def engine_python(override: str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    venv = os.environ.get("MODELYARD_ENGINE_VENV")
    base = Path(venv).expanduser() if venv else home() / "engine-venv"
    return base / "bin" / "python"


def models_dir(override: str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("MODELYARD_MODELS_DIR", str(home() / "models"))).expanduser()


def state_dir(override: str | None = None) -> Path:
    return Path(override).expanduser() if override else home() / "state"


def project_root() -> Path:
    """The checkout this package was installed from (editable install), holding the profiles."""
    return Path(__file__).resolve().parent.parent
