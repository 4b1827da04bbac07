"""A small linear model over n-grams and a request's shape (proxy/classify/ngrams.py), as
trained by eval/train.py: the stage that decides what the rules leave open, and the language
of Latin and Devanagari text.

Inference is pure Python over a dict: a few hundred lookups for a typical prompt, no numpy,
so it costs the proxy no import and no thread. The artefact is gzipped JSON with weights
quantised to integers and a scale; its temperature was fitted on held-out folds of the
training data, so that the probabilities it gives are calibrated, not merely ranked.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.errors import ClassifierSetupError

MODELS = Path(__file__).parent / "models"
FORMAT = 1


@dataclass(frozen=True)
class LinearModel:
    kind: str  # "intent", "language" or "head-<embedder>"
    classes: tuple[str, ...]
    bias: tuple[float, ...]
    # {feature: one weight per class}: one dict lookup per feature of a request, then the
    # found rows summed column-wise in C (`zip(*rows)`), rather than a pass per class
    weights: Mapping[str, tuple[float, ...]]
    temperature: float = 1.0
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                raw = json.load(handle)
        except (OSError, ValueError, EOFError) as exc:
            raise ClassifierSetupError(f"classifier model {path}: cannot read it: {exc}") from exc
        return cls.from_dict(raw, str(path))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], where: str = "model") -> LinearModel:
        try:
            if raw["format"] != FORMAT:
                raise ValueError(f"format {raw['format']!r}, this proxy reads {FORMAT}")
            classes = tuple(str(c) for c in raw["classes"])
            scale = float(raw["scale"])
            weights = {}
            for feature, row in raw["weights"].items():
                if len(row) != len(classes):
                    raise ValueError(f"feature {feature!r} does not have one weight per class")
                weights[str(feature)] = tuple(float(q) * scale for q in row)
            bias = tuple(float(b) for b in raw["bias"])
            if len(bias) != len(classes):
                raise ValueError("the bias does not have one value per class")
            return cls(
                kind=str(raw["kind"]),
                classes=classes,
                bias=bias,
                weights=weights,
                temperature=float(raw.get("temperature", 1.0)),
                meta=dict(raw.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ClassifierSetupError(f"classifier model {where}: malformed: {exc}") from exc

    def scores(self, text: Collection[str], shape: Collection[str] = ()) -> list[float]:
        """Raw class scores: text n-grams count 1/sqrt(their number) each (the training rows
        were L2-normalised the same way), shape features 1 each."""
        total = list(self.bias)
        get = self.weights.get
        if text:
            found = [row for row in map(get, text) if row is not None]
            if found:
                norm = 1.0 / math.sqrt(len(text))
                sums = map(sum, zip(*found, strict=True))
                total = [t + s * norm for t, s in zip(total, sums, strict=True)]
        if shape:
            found = [row for row in map(get, shape) if row is not None]
            if found:
                sums = map(sum, zip(*found, strict=True))
                total = [t + s for t, s in zip(total, sums, strict=True)]
        return total

    def probabilities(
        self, text: Collection[str], shape: Collection[str] = (), among: Sequence[str] = ()
    ) -> dict[str, float]:
        """Calibrated probabilities over `among` (the classes still possible), or all."""
        return self._softmax(self.scores(text, shape), among)

    def probabilities_of(
        self, values: Mapping[str, float], among: Sequence[str] = ()
    ) -> dict[str, float]:
        """The same for real-valued features (an embedding's dimensions, named `e:N`)."""
        total = list(self.bias)
        for feature, value in values.items():
            row = self.weights.get(feature)
            if row is not None:
                total = [t + w * value for t, w in zip(total, row, strict=True)]
        return self._softmax(total, among)

    def _softmax(self, scores: list[float], among: Sequence[str]) -> dict[str, float]:
        index = {c: i for i, c in enumerate(self.classes)}
        wanted = [c for c in (among or self.classes) if c in index]
        if not wanted:
            return {}
        logits = [scores[index[c]] / self.temperature for c in wanted]
        top = max(logits)
        exps = [math.exp(v - top) for v in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(wanted, exps, strict=True)}


def load_models(setting: str) -> tuple[LinearModel | None, LinearModel | None]:
    """The intent and language models that `classifier.learned` names: "builtin" (the ones in
    the package), "none", or a directory holding intent.json.gz and language.json.gz."""
    if setting == "none":
        return None, None
    where = _directory(setting)
    return _load(where, "intent"), _load(where, "language")


def load_head(setting: str, embedder: str) -> LinearModel | None:
    """The intent head trained on `embedder`'s vectors, where `classifier.learned` holds one
    (a head is only good for the embedder it was trained on)."""
    if setting == "none":
        return None
    path = _directory(setting) / f"head-{embedder}.json.gz"
    return _load(_directory(setting), f"head-{embedder}") if path.is_file() else None


def _directory(setting: str) -> Path:
    return MODELS if setting == "builtin" else Path(setting).expanduser()


def _load(where: Path, kind: str) -> LinearModel:
    path = where / f"{kind}.json.gz"
    if not path.is_file():
        raise ClassifierSetupError(
            f"classifier.learned: {path} does not exist (train it with make train-router, "
            "or set classifier.learned: none)"
        )
    model = LinearModel.load(path)
    if model.kind != kind:
        raise ClassifierSetupError(f"classifier.learned: {path} holds a {model.kind} model")
    return model
