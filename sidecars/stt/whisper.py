"""The faster-whisper engine: one CTranslate2 Whisper model, loaded from a local directory.

Always a directory, never a name: `WhisperModel("tiny")` asks the Hugging Face hub, which this
machine cannot reach. int8 on CPU with two intra-op threads per model is what `bench.py`
measured; one worker means concurrent requests queue inside CTranslate2 instead of
oversubscribing the cores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faster_whisper import WhisperModel  # type: ignore[import-untyped]  # ships no py.typed

from sidecars.stt.audio import Samples, duration_s
from sidecars.stt.engine import DecodeOptions, Segment, Transcript, Word
from sidecars.stt.errors import ModelSetupError
from sidecars.stt.settings import ComputeType

# Whisper's fallback ladder for OpenAI's temperature=0: retry hotter when a window decodes
# into repetition or low confidence.
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


class WhisperEngine:
    def __init__(self, name: str, model: Any, beam_size: int) -> None:
        self._name = name
        self._model = model
        self._beam_size = beam_size
        self._languages = frozenset(model.supported_languages)

    @classmethod
    def load(
        cls, name: str, path: Path, cpu_threads: int, compute_type: ComputeType, beam_size: int
    ) -> WhisperEngine:
        try:
            model = WhisperModel(
                str(path),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads,
                num_workers=1,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelSetupError(f"Could not load model {name!r} from {path}: {exc}") from exc
        return cls(name, model, beam_size)

    @property
    def name(self) -> str:
        return self._name

    @property
    def languages(self) -> frozenset[str]:
        return self._languages

    @property
    def can_translate(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def run(self, samples: Samples, options: DecodeOptions) -> Transcript:
        temperature = FALLBACK_TEMPERATURES if options.temperature is None else options.temperature
        segments, info = self._model.transcribe(
            samples,
            task=options.task,
            language=options.language,
            initial_prompt=options.prompt,
            temperature=temperature,
            beam_size=self._beam_size,
            word_timestamps=options.word_timestamps,
        )
        # `segments` is a lazy generator: decoding happens while it is consumed, here.
        return Transcript(
            task=options.task,
            language=str(info.language),
            duration=duration_s(samples),
            segments=tuple(_segment(raw) for raw in segments),
        )


def _segment(raw: Any) -> Segment:
    words = tuple(Word(w.word, float(w.start), float(w.end)) for w in raw.words or ())
    return Segment(
        id=int(raw.id) - 1,  # faster-whisper counts from 1, OpenAI from 0
        seek=int(raw.seek),
        start=float(raw.start),
        end=float(raw.end),
        text=str(raw.text),
        tokens=tuple(int(t) for t in raw.tokens),
        temperature=float(raw.temperature or 0.0),
        avg_logprob=float(raw.avg_logprob),
        compression_ratio=float(raw.compression_ratio),
        no_speech_prob=float(raw.no_speech_prob),
        words=words,
    )
