"""Pure policy: from a request's model, voice and language cues to one engine and one voice.

Language, strongest cue first: the body's `language`; the language of a pinned engine voice;
the proxy's `x-modelyard-language` hint (ignored if no engine speaks it, since the proxy guesses
and the text may still be speakable); the script of the input. The engine is the first one the
model prefers that speaks that language, so English goes to Piper and Indian languages to
espeak-ng, and English falls back to espeak-ng when Piper is absent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sidecars.tts import languages
from sidecars.tts.catalog import Catalog
from sidecars.tts.engines.base import Engine, Voice
from sidecars.tts.errors import BadRequestError, ModelNotFoundError, UnsupportedLanguageError
from sidecars.tts.voices import OPENAI_VOICES

# Engine preference per OpenAI model name. `tts-1-hd` prefers the slower, richer engine.
MODEL_ENGINES: dict[str, tuple[str, ...]] = {
    "tts-1": ("piper", "espeak-ng", "coqui"),
    "tts-1-hd": ("coqui", "piper", "espeak-ng"),
}


@dataclass(frozen=True)
class Cues:
    """What a request says about how to speak it, before any choice is made."""

    model: str
    voice: str
    text: str
    language: str | None = None  # the body's `language` extension
    hint: str | None = None  # the `x-modelyard-language` header


@dataclass(frozen=True)
class Choice:
    engine: Engine
    voice: Voice
    language: str


def choose(catalog: Catalog, cues: Cues) -> Choice:
    engines = _engines_for_model(catalog, cues.model)
    persona = OPENAI_VOICES.get(cues.voice.lower())
    pinned = None if persona else _pinned_voice(engines, cues.voice)
    language = _language(engines, cues, pinned)
    if pinned is not None:
        engine = next(engine for engine in engines if engine.name == pinned.engine)
        return Choice(engine, pinned, language)
    for engine in engines:
        if any(voice.language == language for voice in engine.voices):
            return Choice(engine, engine.voice_for(language, persona), language)
    raise AssertionError("_language returned a language no engine speaks")


def describe(codes: set[str]) -> str:
    return ", ".join(
        f"{code} ({languages.LANGUAGE_NAMES.get(code, code)})" for code in sorted(codes)
    )


def _engines_for_model(catalog: Catalog, model: str) -> tuple[Engine, ...]:
    names = MODEL_ENGINES.get(model, (model,))
    engines = tuple(engine for name in names if (engine := catalog.engine(name)) is not None)
    if engines:
        return engines
    missing = next((item for item in catalog.unavailable if item.name == model), None)
    if missing is not None:
        raise ModelNotFoundError(f"engine '{model}' is not available: {missing.reason}", "model")
    known = [*MODEL_ENGINES, *(engine.name for engine in catalog.engines)]
    raise ModelNotFoundError(f"model '{model}' does not exist; use one of {known}", "model")


def _pinned_voice(engines: tuple[Engine, ...], voice_id: str) -> Voice:
    for engine in engines:
        found = engine.find_voice(voice_id)
        if found is not None:
            return found
    raise BadRequestError(
        f"voice '{voice_id}' is neither an OpenAI voice ({', '.join(OPENAI_VOICES)}) nor an "
        "engine voice of this model; GET /v1/voices lists them",
        "voice",
    )


def _language(engines: tuple[Engine, ...], cues: Cues, pinned: Voice | None) -> str:
    spoken = {voice.language for engine in engines for voice in engine.voices}
    if cues.language is not None:
        language = languages.normalise_language(cues.language)
        if language not in spoken:
            raise UnsupportedLanguageError(
                f"language '{cues.language}' is not supported; supported: {describe(spoken)}",
                "language",
            )
        if pinned is not None and pinned.language != language:
            raise BadRequestError(
                f"voice '{pinned.id}' speaks {pinned.language}, not {language}", "voice"
            )
        return language
    if pinned is not None:
        return pinned.language
    if cues.hint and languages.normalise_language(cues.hint) in spoken:
        return languages.normalise_language(cues.hint)
    detected = languages.detect(cues.text)
    if detected.language in spoken:
        return detected.language
    raise UnsupportedLanguageError(
        f"the input is in {detected.script} script, which no engine of this model speaks; "
        f"pass `language` as one of: {describe(spoken)}",
        "language",
    )
