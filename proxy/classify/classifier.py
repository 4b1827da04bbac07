"""The intent classifier: stages, cheapest first, each consulted only when the one before is
unsure.

1. rules (rules.py): the endpoint and the inputs leave one intent, or a short list;
2. learned (learned.py, on by default): a linear model over the prompt's character n-grams
   (quotes left out) and the request's shape, with its softmax over the intents the rules
   left. Its probability is calibrated on held-out folds, so confidence 0.9 means right about
   nine times in ten. Without it (`classifier.learned: none`), or when an intent a config
   added is in contention, the cue phrases (cues.py) decide: one vote per distinct cue match,
   half a vote for the most specific candidate, confidence the margin m between the top two
   as m / (m + 1);
3. embedding (embedding.py, optional, `classifier.embedder`): the head trained on the
   embedder's vectors (eval/train.py) where the learned stage is unsure, its probability
   calibrated the same way; without a head (a user's own model, `learned: none`), the nearest
   exemplars among the tied intents, confidence the cosine margin between the top two times ten;
4. triage (optional, async; proxy/triage.py asks an LLM through the chain): the intent;
5. the configured default.

The language of Latin and Devanagari text, which letters alone do not settle (Hinglish,
romanised Tamil, Marathi), is the learned language model's when one is loaded.

`decide` runs stages 1-3 synchronously (the eval uses it); `classify` is the proxy's async
path, which runs the embedding in a worker thread so that a slow embedding never stalls
other requests' streams, and adds triage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from modelyard_config.classifier import ClassifierSettings
from proxy.classify.cues import CueSet
from proxy.classify.embedding import Embedder, ExemplarIndex
from proxy.classify.features import Features
from proxy.classify.language import Language, of_request
from proxy.classify.learned import LinearModel
from proxy.classify.ngrams import (
    embedding_values,
    intent_grams,
    intent_text,
    shape_features,
    text_features,
)
from proxy.classify.rules import candidates

# (text, tied intents) -> (chosen intent or None, reason)
Triage = Callable[[str, Sequence[str]], Awaitable[tuple[str | None, str]]]

PRIOR = 0.5  # the most specific candidate's head start over the others
LEARNED_THRESHOLD = 0.9  # classifier.threshold unset: calibrated probabilities
CUE_THRESHOLD = 0.3  # and cue margins
AMBIGUOUS_SCRIPTS = ("Latn", "Deva")
LEARNED_LANGUAGES = ("en", "hi", "mr", "ta", "te", "bn", "kn", "ml", "gu", "pa")


@dataclass(frozen=True)
class Evidence:
    """What the stages after the rules look at: the intents still possible (most specific
    first), the cue phrases found for them, and the learned stage's features."""

    candidates: tuple[str, ...]
    reason: str
    hits: dict[str, list[str]] = field(default_factory=dict)
    text: frozenset[str] = frozenset()
    shape: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    intent: str
    confidence: float
    stage: str  # endpoint | rules | cues | embedding | triage | default
    language: Language
    modalities: list[str]
    reasons: list[str] = field(default_factory=list)
    tied: tuple[str, ...] = ()  # the intents still in contention when confidence is low
    classify_ms: float = 0.0


class Classifier:
    def __init__(
        self,
        settings: ClassifierSettings,
        embedder: Embedder | None = None,
        triage: Triage | None = None,
        intent_model: LinearModel | None = None,
        language_model: LinearModel | None = None,
        head: LinearModel | None = None,
    ) -> None:
        self.settings = settings
        self.intent_model = intent_model
        self.language_model = language_model
        self.intents = settings.intents
        self.cues = CueSet.compile({n: s.cues for n, s in self.intents.items()})
        self.embedder = embedder
        # A head trained on this embedder's vectors; without one, the nearest exemplars.
        self.head = head if embedder is not None else None
        self.index = (
            ExemplarIndex(embedder, {n: s.examples for n, s in self.intents.items()})
            if embedder is not None and head is None
            else None
        )
        self.triage = triage

    def decide(self, features: Features) -> Decision:
        started = time.perf_counter()
        decision, evidence = self._rules_and_cues(features)
        if self._unsure(decision) and self.embedder is not None:
            decision = self._embedding(features, evidence, decision)
        return _timed(decision, started)

    async def classify(self, features: Features) -> Decision:
        started = time.perf_counter()
        decision, evidence = self._rules_and_cues(features)
        if self._unsure(decision) and self.embedder is not None:
            decision = await asyncio.to_thread(self._embedding, features, evidence, decision)
        if self._unsure(decision) and self.triage is not None and features.text.strip():
            decision = await self._triage(features, decision)
        return _timed(decision, started)

    def _unsure(self, decision: Decision) -> bool:
        return len(decision.tied) > 1 and decision.confidence < self._threshold(decision)

    def _threshold(self, decision: Decision) -> float:
        if self.settings.threshold is not None:
            return self.settings.threshold
        calibrated = decision.stage == "learned" or (
            decision.stage == "embedding" and self.head is not None
        )
        return LEARNED_THRESHOLD if calibrated else CUE_THRESHOLD

    def evidence(self, features: Features, grams: frozenset[str] | None = None) -> Evidence:
        """The rules' candidates and, where more than one is left, what the learned stage
        weighs: the prompt's n-grams (`grams`, when already made for its language, are the same
        unless the prompt quotes something) and its shape. The training script learns from
        exactly this. The cue phrases are not in it: they added 0.2 points on the training
        folds and none on holdout2, for half a millisecond of regexes per request."""
        found = candidates(self.intents, features)
        if len(found.intents) < 2:
            return Evidence(found.intents, found.reason)
        shape = (*shape_features(features), f"first:{found.intents[0]}")
        return Evidence(
            found.intents, found.reason, text=intent_grams(features.text, grams), shape=shape
        )

    def _rules_and_cues(self, features: Features) -> tuple[Decision, Evidence]:
        modalities = features.modalities
        language, grams = self._language(features)
        evidence = self.evidence(features, grams)
        reasons = [
            f"rules: {evidence.reason}: {', '.join(evidence.candidates) or 'no intent fits'}"
        ]
        if not evidence.candidates:
            default = self.settings.default
            reasons.append(f"default: {default}")
            return Decision(default, 0.0, "default", language, modalities, reasons), evidence
        if len(evidence.candidates) == 1:
            stage = "endpoint" if evidence.reason.startswith("endpoint") else "rules"
            decision = Decision(evidence.candidates[0], 1.0, stage, language, modalities, reasons)
            return decision, evidence
        if self.intent_model is not None and self._known(evidence.candidates):
            return self._learned(evidence, language, modalities, reasons), evidence
        found = evidence.candidates
        hits = self.cues.matches(features.text, found)
        evidence = replace(evidence, hits=hits)
        reasons += [f"cues: {name}: {', '.join(repr(h) for h in hits[name])}" for name in hits]
        scores = {name: float(len(hits.get(name, ()))) for name in found}
        scores[found[0]] += PRIOR
        ranked = sorted(found, key=lambda n: -scores[n])  # stable: specificity breaks ties
        margin = scores[ranked[0]] - scores[ranked[1]]
        # what a later stage chooses between: every intent level with the top, or the top two
        tied = (
            tuple(n for n in ranked if scores[n] == scores[ranked[0]])
            if margin == 0
            else (
                ranked[0],
                ranked[1],
            )
        )
        decision = Decision(
            ranked[0],
            round(margin / (margin + 1), 3),
            "cues" if hits else "rules",
            language,
            modalities,
            reasons,
            tied=tied,
        )
        return decision, evidence

    def _known(self, intents: Sequence[str]) -> bool:
        """Whether the learned model can weigh all of `intents`: an intent a config added is
        not among its classes, and it must not lose to them for that; the cues decide."""
        assert self.intent_model is not None
        return all(name in self.intent_model.classes for name in intents)

    def _learned(
        self, evidence: Evidence, language: Language, modalities: list[str], reasons: list[str]
    ) -> Decision:
        assert self.intent_model is not None
        probs = self.intent_model.probabilities(evidence.text, evidence.shape, evidence.candidates)
        if not probs:  # the model knows none of these intents (a config's own): the cues' turn
            return Decision(evidence.candidates[0], 0.0, "rules", language, modalities, reasons)
        ranked = sorted(probs, key=lambda n: -probs[n])
        reasons.append("learned: " + ", ".join(f"{n} {probs[n]:.2f}" for n in ranked))
        return Decision(
            ranked[0],
            round(probs[ranked[0]], 3),
            "learned",
            language,
            modalities,
            reasons,
            # every intent still possible, likeliest first: what triage chooses among
            tied=tuple(ranked) if len(ranked) > 1 else (),
        )

    def _language(self, features: Features) -> tuple[Language, frozenset[str] | None]:
        """The language, and the prompt's n-grams when the language model needed them."""
        language = of_request(features.language_hint, features.text)
        model = self.language_model
        if (
            model is None
            or features.language_hint
            or language.script not in AMBIGUOUS_SCRIPTS
            or language.code not in LEARNED_LANGUAGES
        ):
            return language, None
        grams = frozenset(text_features(features.text))
        among = ("hi", "mr") if language.script == "Deva" else LEARNED_LANGUAGES
        probs = model.probabilities(grams, among=among)
        if not probs:
            return language, grams
        code = max(probs, key=probs.__getitem__)
        romanised = language.script == "Latn" and code != "en"
        return Language(code, language.script, round(probs[code], 3), romanised), grams

    def _embedding(self, features: Features, evidence: Evidence, decision: Decision) -> Decision:
        if not features.text.strip():
            return decision
        if self.head is not None and all(n in self.head.classes for n in evidence.candidates):
            return self._head(features, evidence, decision)
        if self.index is None:
            return decision
        sims = self.index.similarities(features.text, decision.tied)
        if len(sims) < 2:
            return decision
        ranked = sorted(sims, key=lambda n: -sims[n])
        margin = sims[ranked[0]] - sims[ranked[1]]
        reason = "embedding: " + ", ".join(f"{n} {sims[n]:.3f}" for n in ranked)
        return replace(
            decision,
            intent=ranked[0],
            confidence=round(min(1.0, margin * 10), 3),
            stage="embedding",
            reasons=[*decision.reasons, reason],
            tied=tuple(ranked),
        )

    def _head(self, features: Features, evidence: Evidence, decision: Decision) -> Decision:
        """The head trained on the embedder's vectors (eval/train.py): a calibrated
        probability over the intents the rules left, like the learned stage's."""
        assert self.head is not None and self.embedder is not None
        vector = self.embedder.embed([intent_text(features.text)])[0]
        values = embedding_values(vector)
        values.update(dict.fromkeys(evidence.shape, 1.0))
        probs = self.head.probabilities_of(values, evidence.candidates)
        ranked = sorted(probs, key=lambda n: -probs[n])
        reason = "embedding head: " + ", ".join(f"{n} {probs[n]:.2f}" for n in ranked)
        return replace(
            decision,
            intent=ranked[0],
            confidence=round(probs[ranked[0]], 3),
            stage="embedding",
            reasons=[*decision.reasons, reason],
            tied=tuple(ranked),
        )

    async def _triage(self, features: Features, decision: Decision) -> Decision:
        assert self.triage is not None
        chosen, reason = await self.triage(features.text, decision.tied)
        if chosen is None:
            default = self.settings.default
            fallback = default if default in decision.tied else decision.intent
            return replace(
                decision,
                intent=fallback,
                stage="default",
                reasons=[*decision.reasons, f"triage: {reason}", f"default: {fallback}"],
            )
        return replace(
            decision,
            intent=chosen,
            confidence=1.0,
            stage="triage",
            reasons=[*decision.reasons, f"triage: {reason}"],
        )


def _timed(decision: Decision, started: float) -> Decision:
    return replace(decision, classify_ms=round((time.perf_counter() - started) * 1000, 3))
