"""The interface every engine offers, and the plain data it describes itself with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sidecars.tts.audio import Audio
from sidecars.tts.voices import Persona


@dataclass(frozen=True)
class Voice:
    """An engine's own voice: `id` is what a client may pass as `voice` to pin it."""

    engine: str
    id: str
    language: str


class EngineUnavailable(Exception):
    """An engine cannot be loaded here; the message is shown in /v1/voices as the reason."""


class Engine(Protocol):
    """A loaded synthesiser. `synthesize` blocks; callers run it in a worker thread.

    `speed` is OpenAI's 0.25-4.0 factor; each engine maps it onto its own control.
    Failures raise `EngineFailedError` with the synthesiser's reason.
    """

    @property
    def name(self) -> str: ...

    @property
    def voices(self) -> tuple[Voice, ...]: ...

    def voice_for(self, language: str, persona: Persona | None) -> Voice:
        """The voice this engine uses for `language`, coloured by an OpenAI persona if any."""
        ...

    def find_voice(self, voice_id: str) -> Voice | None:
        """The voice a client pinned by its engine-specific id, or None if this engine lacks it."""
        ...

    def synthesize(self, text: str, voice: Voice, speed: float) -> Audio: ...


class SingleVoiceEngine:
    """What an engine with one speaker answers: that voice for every language and persona it
    is asked about (the catalog only asks for languages the voice speaks), found by its id."""

    def __init__(self, voice: Voice) -> None:
        self._voice = voice

    @property
    def name(self) -> str:
        return self._voice.engine

    @property
    def voices(self) -> tuple[Voice, ...]:
        return (self._voice,)

    def voice_for(self, language: str, persona: Persona | None) -> Voice:
        return self._voice

    def find_voice(self, voice_id: str) -> Voice | None:
        return self._voice if voice_id == self._voice.id else None
