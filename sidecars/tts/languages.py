"""Which languages the sidecar speaks, and how to tell a text's language from its script.

Script detection is the last resort, after an explicit `language` field and the proxy's
`x-modelyard-language` hint: a script names one language except Devanagari, which Hindi and
Marathi share, so detection says Hindi and only a field or hint of `mr` says Marathi.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "hi": "Hindi",
    "mr": "Marathi",
    "bn": "Bengali",
    "ta": "Tamil",
    "te": "Telugu",
    "kn": "Kannada",
    "ml": "Malayalam",
    "gu": "Gujarati",
    "pa": "Punjabi",
}

# (first, last code point, script, the language it implies). Blocks from the Unicode charts.
_SCRIPT_BLOCKS: tuple[tuple[int, int, str, str], ...] = (
    (0x0041, 0x005A, "Latin", "en"),
    (0x0061, 0x007A, "Latin", "en"),
    (0x00C0, 0x024F, "Latin", "en"),
    (0x0900, 0x097F, "Devanagari", "hi"),
    (0xA8E0, 0xA8FF, "Devanagari", "hi"),
    (0x0980, 0x09FF, "Bengali", "bn"),
    (0x0A00, 0x0A7F, "Gurmukhi", "pa"),
    (0x0A80, 0x0AFF, "Gujarati", "gu"),
    (0x0B80, 0x0BFF, "Tamil", "ta"),
    (0x0C00, 0x0C7F, "Telugu", "te"),
    (0x0C80, 0x0CFF, "Kannada", "kn"),
    (0x0D00, 0x0D7F, "Malayalam", "ml"),
)


@dataclass(frozen=True)
class Detected:
    """The dominant script of a text and the language it implies (None: no supported script)."""

    script: str
    language: str | None


def normalise_language(code: str) -> str:
    """`hi-IN`, `HI` and `hi_IN` all mean `hi`: engines work at the language, not the region."""
    return code.strip().replace("_", "-").split("-")[0].lower()


def script_of(char: str) -> tuple[str, str | None] | None:
    point = ord(char)
    for first, last, script, language in _SCRIPT_BLOCKS:
        if first <= point <= last:
            return script, language
    if char.isalpha():
        # Name the unsupported script by the first word of the character's Unicode name.
        return unicodedata.name(char, "UNKNOWN").split(" ")[0], None
    return None


def detect(text: str) -> Detected:
    """The script with the most characters wins; text with no letters is read as English."""
    counts: Counter[tuple[str, str | None]] = Counter()
    for char in text:
        found = script_of(char)
        if found is not None:
            counts[found] += 1
    if not counts:
        return Detected("Common", "en")
    (script, language), _ = counts.most_common(1)[0]
    return Detected(script, language)
