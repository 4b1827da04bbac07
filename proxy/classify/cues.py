"""Cue phrases: the words that say what a request wants, matched in microseconds.

A request's meaning is mostly carried by a few phrases ("read aloud", "lip-sync", "python
code"), in any of a dozen languages. Whole-sentence similarity is swamped by the content
words around them; a phrase lexicon is not, and compiles to one regex per intent.

The phrase syntax is small so that users can write cues in YAML without knowing regexes:

- case is ignored; a space also matches '-', '_' or nothing ("lip sync" finds "lip-sync",
  "lipsync" and "Lip Sync");
- ``...`` is a gap of up to five words ("make ... say" finds "make the man in it say");
- a phrase that starts with a Latin letter matches from the start of a word, and to the end of
  one unless it ends in ``*`` (a stem: "narrat*" finds "narrate" and "narration");
- phrases in Indian scripts match anywhere, because their words take suffixes and vowel signs;
  a final virama is dropped, so "अवतार्" also finds "अवतारों" (inflection replaces it).

Matches do not overlap: where two phrases cover the same words ("read ... for me" and "out
loud" in "read this out loud for me"), the one found first takes them and counts once, so a
long phrase does not vote twice through its parts.

Quoted spans are not searched: in "read this aloud: 'the library closes at 8'" the quote is
what to speak, not what to do, so "library" must not vote for the coding agent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_GAP = r"(?:\W+\w+){0,5}?\W+"  # up to five words between two parts of a phrase
_SEPARATOR = r"[\s_-]*"
_LATIN = re.compile(r"[a-z0-9]", re.IGNORECASE)
# The virama of each Indian script (Devanagari to Malayalam): U+094D, U+09CD, ..., U+0D4D.
_VIRAMAS = "".join(chr(0x094D + 0x80 * i) for i in range(9))
# 'single' (not an apostrophe: no letter outside either quote), "double", and curly quotes.
# An apostrophe followed by a letter ("it's") is part of a word, inside a quote or not.
_QUOTED = re.compile(
    r"(?<!\w)'(?:[^'\n]|'(?=\w)){2,}?'(?!\w)"
    r'|"[^"\n]{2,}?"'
    "|\u2018(?:[^\u2019\n]|\u2019(?=\\w)){2,}?\u2019"
    "|\u201c[^\u201d\n]{2,}?\u201d"
)


def unquoted(text: str) -> str:
    return _QUOTED.sub(" ", text)


def phrase_pattern(phrase: str) -> str:
    """The regex for one cue phrase (see the module docstring for the syntax)."""
    text = phrase.strip().casefold()
    stem = text.endswith("*")
    text = text.rstrip("*").strip().rstrip(_VIRAMAS)
    parts = [p.strip() for p in text.split("...")]
    body = _GAP.join(_SEPARATOR.join(re.escape(w) for w in p.split()) for p in parts if p)
    if _LATIN.match(text):
        body = r"(?<![^\W_])" + body  # starts a word
    if _LATIN.match(text[-1:]) and not stem:
        body += r"(?![^\W_])"  # ends one
    return body


@dataclass(frozen=True)
class CueSet:
    """Each intent's phrases as one compiled regex; `matches` lists the distinct hits."""

    patterns: Mapping[str, re.Pattern[str]]

    @classmethod
    def compile(cls, cues: Mapping[str, Iterable[str]]) -> CueSet:
        patterns = {}
        for intent, phrases in cues.items():
            alternatives = [f"(?:{phrase_pattern(p)})" for p in phrases if p.strip()]
            if alternatives:
                patterns[intent] = re.compile("|".join(alternatives), re.IGNORECASE)
        return cls(patterns)

    def matches(self, text: str, intents: Iterable[str]) -> dict[str, list[str]]:
        """The distinct phrases found for each of `intents` (only those with a hit)."""
        folded = unquoted(text).casefold()
        found: dict[str, list[str]] = {}
        for intent in intents:
            pattern = self.patterns.get(intent)
            if pattern is None:
                continue
            hits = list(dict.fromkeys(m.group(0).strip() for m in pattern.finditer(folded)))
            if hits:
                found[intent] = hits
        return found
