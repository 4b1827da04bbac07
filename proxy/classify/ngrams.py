"""What the learned stages see of a request: the character n-grams of its words and a few
facts about its shape. Pure; the training script (eval/train.py) and the proxy call the same
functions, so a model cannot be trained on features the proxy never computes.

Character n-grams (1 to 4, inside each word padded with a space at both ends) carry meaning
across spellings that a cue list cannot enumerate: Hinglish "sunao", "suna do", "sunaado"
share " sun", and a Telugu verb keeps its stem under its many endings. Words are what lies
between spaces and punctuation; Indian vowel signs stay inside them (Python's \\w would cut
"हिंदी" at its matras). Digits fold to 0; case folds.

For the intent, quoted spans are left out and their presence is a feature of its own: in
"make the doctor in this photo say 'drink eight glasses of water'" the quote is what is to be
said, and its words (water, glasses) say nothing of what is wanted; the quote itself says a
lot. Measured on the training folds: 91.2% -> 93.0%. The language keeps them: an English
instruction around a Tamil line to be spoken is a Tamil request.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from proxy.classify.cues import unquoted
from proxy.classify.features import Features, classified

# The learned stages read less than the cues do: the head and tail of a prompt say what is
# wanted, and the cost is per character (about 0.4 us each).
LEARNED_CHARS = 1024
NGRAM_MAX = 4
_SIZES = range(1, NGRAM_MAX + 1)

_TOKEN = re.compile(
    r"[^\s!-/:-@\[-`{-~\u0964\u0965\u2018-\u201f\u2026\u2013\u2014\u00ab\u00bb\u00bf\u00a1]+"
)
_DIGIT = re.compile(r"\d")
# Links say nothing of what is wanted. (E-mail addresses are left in: a pattern for them,
# `\S+@\S+\.\S+`, backtracked for 350 ms on 2,048 '@' characters.)
_URL = re.compile(r"(?:https?://|www\.)\S+")


def words(text: str) -> list[str]:
    text = _URL.sub(" ", classified(text, LEARNED_CHARS)).casefold()
    return _TOKEN.findall(_DIGIT.sub("0", text))


def text_features(text: str) -> set[str]:
    """The distinct n-grams of `text`'s words, and the words themselves (prefix `w:`)."""
    found: set[str] = set()
    add = found.update
    for word in words(text):
        padded = f" {word} "
        size = len(padded)
        add([padded[i : i + n] for n in _SIZES for i in range(size - n + 1)])
        found.add("w:" + word)
    return found


def intent_text(text: str) -> str:
    """What the intent stages read: the text outside quotes, at most LEARNED_CHARS of it."""
    return classified(unquoted(text), LEARNED_CHARS)


def intent_grams(text: str, grams: frozenset[str] | None = None) -> frozenset[str]:
    """`text_features` of `intent_text`, and `q:quoted` when there were quotes. `grams`, the
    features of the whole text when already made, are the answer when nothing is quoted."""
    if not text:
        return frozenset()
    bare = unquoted(text)
    if len(bare) == len(text):
        return grams if grams is not None else frozenset(text_features(text))
    return frozenset(text_features(bare) | {"q:quoted"})


def embedding_values(vector: Sequence[float]) -> dict[str, float]:
    """An embedding as named features (`e:0`, `e:1`, ...) for a head (learned.py)."""
    return {f"e:{i}": float(v) for i, v in enumerate(vector)}


def shape_features(features: Features) -> list[str]:
    """The request's shape: endpoint family, attachments, output, tools, turns, length."""
    found = ["s:endpoint:" + _family(features.endpoint)]
    found += [
        "s:" + name
        for name, on in (
            ("image", features.image),
            ("audio_in", features.audio_in),
            ("video", features.video),
            ("audio_out", features.audio_out),
            ("tools", features.tools),
            ("multi_turn", features.messages > 2),
            ("no_text", not features.text.strip()),
        )
        if on
    ]
    chars = len(features.text)
    found.append("s:chars:" + ("<20" if chars < 20 else "<100" if chars < 100 else "100+"))
    return found


def _family(endpoint: str) -> str:
    if endpoint.startswith("/v1/audio/speech"):
        return "speech"
    if endpoint.startswith("/v1/audio/"):
        return "transcription"
    if endpoint == "/v1/completions":
        return "completions"
    return "chat"
