"""The one small interface every speech engine offers the app, and the plain data it returns.

The app never sees faster-whisper's types: a second engine (or a test double for a failure the
real one cannot show on cue) only has to satisfy `Engine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from sidecars.stt.audio import Samples

Task = Literal["transcribe", "translate"]


@dataclass(frozen=True)
class DecodeOptions:
    task: Task = "transcribe"
    language: str | None = None  # None: the engine detects it
    prompt: str | None = None
    # None: OpenAI's "0" meaning, start greedy and raise the temperature when decoding fails.
    temperature: float | None = None
    word_timestamps: bool = False


@dataclass(frozen=True)
class Word:
    word: str
    start: float
    end: float


@dataclass(frozen=True)
class Segment:
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    task: Task
    language: str
    duration: float
    segments: tuple[Segment, ...] = field(default_factory=tuple)

    @property
    def text(self) -> str:
        return "".join(segment.text for segment in self.segments).strip()

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for segment in self.segments for word in segment.words)


class Engine(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def languages(self) -> frozenset[str]:
        """ISO 639-1 codes the model can be told to expect; {"en"} for English-only models."""
        ...

    @property
    def can_translate(self) -> bool: ...

    def run(self, samples: Samples, options: DecodeOptions) -> Transcript:
        """Blocking; the app calls it from a worker thread."""
        ...
