"""Coqui TTS, used only where the `TTS` package imports and a model's weights are on disk.

Coqui fetches weights from a hub on first use, which an offline box cannot do, so this engine
never downloads: it needs `--coqui-model DIR` holding `model.pth` and `config.json`. Here the
package does not even import (its torchaudio does not match the installed torch), so `load`
says so and the catalog lists the reason in /v1/voices. The synthesis path below follows
Coqui's documented `TTS(model_path=..., config_path=...)` API and is untested on this box.
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from sidecars.tts.audio import Audio
from sidecars.tts.engines.base import EngineUnavailable, SingleVoiceEngine, Voice
from sidecars.tts.errors import EngineFailedError

NAME = "coqui"


class CoquiEngine(SingleVoiceEngine):
    def __init__(self, tts: Any, voice: Voice) -> None:
        super().__init__(voice)
        self._tts = tts
        self._lock = threading.Lock()  # one torch model, not safe to share between threads

    def synthesize(self, text: str, voice: Voice, speed: float) -> Audio:
        import numpy as np

        try:
            with self._lock:
                samples = self._tts.tts(text=text, speed=speed)
                rate = int(self._tts.synthesizer.output_sample_rate)
        except (RuntimeError, ValueError, KeyError) as exc:
            raise EngineFailedError(f"coqui failed: {type(exc).__name__}: {exc}") from exc
        clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
        return Audio((clipped * 32767).astype("<i2").tobytes(), rate)


def load(model_dir: Path | None, language: str = "en") -> CoquiEngine:
    """Load a local Coqui model, or say exactly which precondition is missing."""
    if importlib.util.find_spec("TTS") is None:
        raise EngineUnavailable("Coqui TTS is not installed (Python package `TTS`)")
    if model_dir is None:
        raise EngineUnavailable("no local Coqui weights: pass --coqui-model DIR (no downloads)")
    model, config = model_dir / "model.pth", model_dir / "config.json"
    if not (model.is_file() and config.is_file()):
        raise EngineUnavailable(f"{model_dir} lacks model.pth and config.json")
    try:
        from TTS.api import TTS  # type: ignore[import-not-found]  # optional, often absent

        tts = TTS(model_path=str(model), config_path=str(config))
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        # The known failure here: torchaudio's compiled ops do not match the installed torch.
        raise EngineUnavailable(f"Coqui TTS failed to load: {type(exc).__name__}: {exc}") from exc
    return CoquiEngine(tts, Voice(NAME, model_dir.name, language))
