"""From a parsed request to a plan: classify when `model` asks for it, then pick the chain.
Shared by the forwarding handlers and `POST /route`, so the decision a client can inspect is
the one the proxy acts on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from modelyard_config import Config
from proxy.classify.classifier import Classifier, Decision
from proxy.classify.features import Features, extract
from proxy.classify.language import Language, of_request
from proxy.resolve import Plan, parse_model, plan
from proxy.validate import check_model
from proxy.waits import Wait


@dataclass(frozen=True)
class Routed:
    features: Features
    plan: Plan
    language: Language
    decision: Decision | None  # None when `model` named the route or server itself
    classify_ms: float


async def route(
    config: Config, classifier: Classifier, endpoint: str, payload: dict[str, Any]
) -> Routed:
    started = time.perf_counter()
    target = parse_model(config, check_model(payload))
    features = extract(endpoint, payload)
    if target.kind == "auto":
        decision = await classifier.classify(features)
        chosen = plan(config, target, features, decision.intent)
        language = decision.language
    else:
        decision = None
        chosen = plan(config, target, features)
        language = of_request(features.language_hint, features.text)
    elapsed = round((time.perf_counter() - started) * 1000, 3)
    return Routed(features, chosen, language, decision, elapsed)


def describe(
    routed: Routed, waits: Sequence[Wait] | None = None, max_wait: float | None = None
) -> dict[str, Any]:
    """The `/route` answer: the decision, and every reason behind it. `waits`: the
    supervisor's prediction for each candidate, None when it could not say."""
    p, d = routed.plan, routed.decision
    reasons = list(d.reasons) if d else [f"model {p.requested!r}: no classification"]
    reasons.append(f"route: {p.route or 'none'}")
    reasons += [f"skipped {server}: {why}" for server, why in p.skipped]
    return {
        "intent": p.intent,
        "confidence": d.confidence if d else 1.0,
        "stage": d.stage if d else "model",
        "language": routed.language.code,
        "script": routed.language.script,
        "modalities": routed.features.modalities,
        "model": p.candidates[0] if p.candidates else None,
        "route": p.route,
        "candidates": list(p.candidates),
        "waits": [w.as_dict() for w in waits] if waits is not None else None,
        "max_wait": max_wait,
        "skipped": [{"server": s, "reason": why} for s, why in p.skipped],
        "reasons": reasons,
        "classify_ms": routed.classify_ms,
    }
