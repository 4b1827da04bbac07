"""The tiny real models the CPU profile serves, built once into the models folder.

Random weights, real architecture: vLLM's whole serving path runs on a 2-core CPU in seconds.
The build runs under the engine venv's python (it needs torch and transformers, which the
project's light venv does not carry), through tinymodels/build.py. The qwen2-vl, whisper and
qwen2-audio models build the same way; serving them also needs the engine's media-libs
(scripts/setup-engine.sh) for image, video and audio decoding and resampling. A model counts as
built only if its folder's stamp names its kind's current recipe (recipes.py), so a changed
builder reaches caches built before it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Literal

from modelyard_config import Config
from modelyard_config.placeholders import fill
from tinymodels.recipes import is_current

# The folder that holds this package: the checkout for an editable install, the project venv's
# site-packages otherwise.
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
# `python -m tinymodels.build`, except that the package's parent joins sys.path last, behind the
# engine venv's own packages: as site-packages, it holds the project venv's numpy, tokenizers and
# the like, which must not shadow the engine's. -P (Python 3.11+) keeps the working directory off
# sys.path as well.
RUN_BUILDER = (
    "import runpy, sys; sys.path.append(sys.argv.pop(1)); "
    "runpy.run_module('tinymodels.build', run_name='__main__', alter_sys=True)"
)

Kind = Literal[  # build.py --kind
    "qwen2", "qwen2-vl", "whisper", "qwen2-audio", "xlm-roberta", "xlm-roberta-rerank"
]  # fmt: skip

# name -> (builder kind, seed). The two text models differ by seed, so tests can tell which one
# answered.
CATALOG: dict[str, tuple[Kind, int]] = {
    "tiny-qwen2-a": ("qwen2", 1),
    "tiny-qwen2-b": ("qwen2", 2),
    "tiny-qwen2-vl": ("qwen2-vl", 3),
    "tiny-whisper": ("whisper", 4),
    "tiny-qwen2-audio": ("qwen2-audio", 5),
    "tiny-xlmr-embed": ("xlm-roberta", 6),
    "tiny-xlmr-rerank": ("xlm-roberta-rerank", 7),
}


class ModelBuildError(Exception):
    """A tiny model could not be built: the engine python is missing, or the builder failed."""


def wanted_by(config: Config, models_dir: Path) -> list[str]:
    """Catalog models that `config` serves from the models folder."""
    wanted = []
    for spec in config.servers.values():
        path = Path(fill(spec.model, {"models_dir": str(models_dir)}))
        if path.parent == models_dir and path.name in CATALOG:
            wanted.append(path.name)
    return sorted(set(wanted))


def is_built(models_dir: Path, name: str) -> bool:
    """Whether the folder holds this model built by its kind's current recipe; a stale one is
    rebuilt by `build`, which swaps the new folder in.
    """
    kind, seed = CATALOG[name]
    return is_current(str(models_dir / name), kind, seed)


def build(models_dir: Path, name: str, engine_python: Path) -> None:
    if is_built(models_dir, name):
        return
    if not engine_python.exists():
        raise ModelBuildError(
            f"engine python {engine_python} is missing: run `make setup` (scripts/setup-engine.sh)"
        )
    models_dir.mkdir(parents=True, exist_ok=True)
    kind, seed = CATALOG[name]
    argv = [
        str(engine_python),
        "-P",
        "-c",
        RUN_BUILDER,
        str(PACKAGE_PARENT),
        "--out",
        str(models_dir / name),
        "--kind",
        kind,
        "--seed",
        str(seed),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ModelBuildError(
            f"building {name} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
