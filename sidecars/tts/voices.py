"""OpenAI's voice names, and what each becomes on an engine with fewer voices than names.

Piper's bundled voice is one speaker, so every name is that speaker. espeak-ng has one voice per
language plus variants that change pitch and timbre; each name gets a fixed variant so a client
asking for `nova` hears the same character in every language.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    """An OpenAI voice name and its espeak-ng variant (m = male, f = female character)."""

    name: str
    espeak_variant: str


OPENAI_VOICES: dict[str, Persona] = {
    persona.name: persona
    for persona in (
        Persona("alloy", "m3"),
        Persona("ash", "m4"),
        Persona("ballad", "m5"),
        Persona("cedar", "m8"),
        Persona("coral", "f4"),
        Persona("echo", "m1"),
        Persona("fable", "m2"),
        Persona("marin", "f5"),
        Persona("nova", "f3"),
        Persona("onyx", "m7"),
        Persona("sage", "f1"),
        Persona("shimmer", "f2"),
        Persona("verse", "m6"),
    )
}
