"""Stage 1: which intents a request can be at all, from its endpoint and inputs. Pure.

An endpoint that belongs to one intent decides alone (a transcription is stt, an embedding
request embed). Intents that answer no words (vectors, scores) are never a chat's. Asking for
audio out leaves only intents that produce audio. Otherwise an intent is possible when it
accepts every input the request carries and the request carries one of the inputs it
requires (a video part allows only intents that take video). The candidates come back
most specific first, the intent that accepts the fewest kinds of input, so that "an image
and a question" prefers the image intent to the one that takes everything; config order
breaks ties.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelyard_config.classifier import IntentSpec
from modelyard_config.endpoints import GENERATION
from proxy.classify.features import Features

_MEDIA = ("image", "audio", "video")


@dataclass(frozen=True)
class Candidates:
    intents: tuple[str, ...]
    reason: str


def candidates(intents: Mapping[str, IntentSpec], features: Features) -> Candidates:
    for name, spec in intents.items():
        if features.endpoint in spec.endpoints:
            return Candidates((name,), f"endpoint {features.endpoint} means {name}")
    inputs = set(features.modalities) or {"text"}
    pool = [
        n
        for n, s in intents.items()
        if (not s.endpoints or _chat_like(features.endpoint)) and _answers_in_words(s)
    ]
    if features.audio_out:
        speaking = [n for n in pool if "audio" in intents[n].outputs]
        if speaking:
            fitting = [n for n in speaking if _fits(intents[n], inputs)] or speaking
            return Candidates(_by_specificity(intents, fitting), "audio output requested")
    fitting = [n for n in pool if _fits(intents[n], inputs)]
    what = "+".join(m for m in ("text", *_MEDIA) if m in inputs)
    return Candidates(_by_specificity(intents, fitting), f"inputs {what}")


def _chat_like(endpoint: str) -> bool:
    return endpoint in GENERATION


def _answers_in_words(spec: IntentSpec) -> bool:
    """Whether the intent answers with text or speech: an embedding or a score is never the
    answer to a chat, whatever its words."""
    return bool({"text", "audio", "video"} & set(spec.outputs))


def _fits(spec: IntentSpec, inputs: set[str]) -> bool:
    return inputs <= set(spec.accepts) and (not spec.requires or bool(inputs & set(spec.requires)))


def _by_specificity(intents: Mapping[str, IntentSpec], names: list[str]) -> tuple[str, ...]:
    order = {name: i for i, name in enumerate(intents)}
    return tuple(sorted(names, key=lambda n: (len(intents[n].accepts), order[n])))
