"""The intent classifier: stages, cheapest first, each consulted only when the one before is
unsure.

1. rules (rules.py): the endpoint and the inputs leave one intent, or a short list;
2. cues (cues.py): one vote per distinct cue match (matches do not overlap), half a vote
   for the most specific candidate. Confidence is the margin m between the top two, as m / (m + 1);
3. embedding (embedding.py, optional): nearest exemplars among the tied intents. Confidence is
   the cosine margin between the top two, times ten;
4. triage (optional, async; proxy/triage.py asks an LLM through the chain): the intent;
5. the configured default.

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
from proxy.classify.rules import candidates

# (text, tied intents) -> (chosen intent or None, reason)
Triage = Callable[[str, Sequence[str]], Awaitable[tuple[str | None, str]]]

PRIOR = 0.5  # the most specific candidate's head start over the others


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
    ) -> None:
        self.settings = settings
        self.intents = settings.intents
        self.cues = CueSet.compile({n: s.cues for n, s in self.intents.items()})
        self.index = (
            ExemplarIndex(embedder, {n: s.examples for n, s in self.intents.items()})
            if embedder is not None
            else None
        )
        self.triage = triage

    def decide(self, features: Features) -> Decision:
        started = time.perf_counter()
        decision = self._rules_and_cues(features)
        if self._unsure(decision) and self.index is not None:
            decision = self._embedding(features, decision)
        return _timed(decision, started)

    async def classify(self, features: Features) -> Decision:
        started = time.perf_counter()
        decision = self._rules_and_cues(features)
        if self._unsure(decision) and self.index is not None:
            decision = await asyncio.to_thread(self._embedding, features, decision)
        if self._unsure(decision) and self.triage is not None and features.text.strip():
            decision = await self._triage(features, decision)
        return _timed(decision, started)

    def _unsure(self, decision: Decision) -> bool:
        return len(decision.tied) > 1 and decision.confidence < self.settings.threshold

    def _rules_and_cues(self, features: Features) -> Decision:
        language = of_request(features.language_hint, features.text)
        modalities = features.modalities
        found = candidates(self.intents, features)
        reasons = [f"rules: {found.reason}: {', '.join(found.intents) or 'no intent fits'}"]
        if not found.intents:
            default = self.settings.default
            reasons.append(f"default: {default}")
            return Decision(default, 0.0, "default", language, modalities, reasons)
        if len(found.intents) == 1:
            stage = "endpoint" if found.reason.startswith("endpoint") else "rules"
            return Decision(found.intents[0], 1.0, stage, language, modalities, reasons)
        hits = self.cues.matches(features.text, found.intents)
        scores = {name: float(len(hits.get(name, ()))) for name in found.intents}
        scores[found.intents[0]] += PRIOR
        ranked = sorted(found.intents, key=lambda n: -scores[n])  # stable: specificity breaks ties
        margin = scores[ranked[0]] - scores[ranked[1]]
        reasons += [f"cues: {name}: {', '.join(repr(h) for h in hits[name])}" for name in hits]
        # what a later stage chooses between: every intent level with the top, or the top two
        tied = (
            tuple(n for n in ranked if scores[n] == scores[ranked[0]])
            if margin == 0
            else (
                ranked[0],
                ranked[1],
            )
        )
        return Decision(
            ranked[0],
            round(margin / (margin + 1), 3),
            "cues" if hits else "rules",
            language,
            modalities,
            reasons,
            tied=tied,
        )

    def _embedding(self, features: Features, decision: Decision) -> Decision:
        assert self.index is not None
        if not features.text.strip():
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
