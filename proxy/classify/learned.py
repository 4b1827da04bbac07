"""A small linear model over n-grams and a request's shape (proxy/classify/ngrams.py), as
trained by eval/train.py: the stage that decides what the rules leave open, and the language
of Latin and Devanagari text.

Inference is pure Python over a dict: a few hundred lookups for a typical prompt, no numpy,
so it costs the proxy no import and no thread. The artefact is gzipped JSON with weights
quantised to integers and a scale; its temperature was fitted on held-out folds of the
training data, so that the probabilities it gives are calibrated, not merely ranked.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import sys
from array import array
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.errors import ClassifierSetupError

MODELS = Path(__file__).parent / "models"
FORMAT = 2  # 2: features one per line, weights as base64 int16 (1: a JSON object per feature)


@dataclass(frozen=True)
class LinearModel:
    kind: str  # "intent", "language" or "head-<embedder>"
    classes: tuple[str, ...]
    bias: tuple[float, ...]
    # {feature: where its row starts in `table`}, one float32 per class from there: one dict
    # lookup per feature of a request, the found rows summed column-wise in C (`zip(*rows)`).
    # Rows as tuples of floats took 67 MB for the two shipped models; this takes a fifth.
    offsets: Mapping[str, int]
    table: array[float]
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
            width = len(classes)
            names = raw["features"].split("\n") if raw["features"] else []
            quanta = array("h", base64.b64decode(raw["weights"], validate=True))
            if sys.byteorder != "little":
                quanta.byteswap()
            if len(quanta) != len(names) * width:
                raise ValueError(
                    f"{len(quanta)} weights do not make one row of {width} per feature "
                    f"({len(names)} features)"
                )
            table = array("f", (q * scale for q in quanta))
            offsets = {name: i * width for i, name in enumerate(names)}
            bias = tuple(float(b) for b in raw["bias"])
            if len(bias) != len(classes):
                raise ValueError("the bias does not have one value per class")
            return cls(
                kind=str(raw["kind"]),
                classes=classes,
                bias=bias,
                offsets=offsets,
                table=table,
                temperature=float(raw.get("temperature", 1.0)),
                meta=dict(raw.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise ClassifierSetupError(f"classifier model {where}: malformed: {exc}") from exc

    def row(self, feature: str) -> array[float] | None:
        start = self.offsets.get(feature)
        return None if start is None else self.table[start : start + len(self.classes)]

    def scores(self, text: Collection[str], shape: Collection[str] = ()) -> list[float]:
        """Raw class scores: text n-grams count 1/sqrt(their number) each (the training rows
        were L2-normalised the same way), shape features 1 each."""
        total = list(self.bias)
        for features, norm in ((text, len(text) ** -0.5 if text else 0.0), (shape, 1.0)):
            found = self._rows(features)
            if found:
                sums = map(sum, zip(*found, strict=True))
                total = [t + s * norm for t, s in zip(total, sums, strict=True)]
        return total

    def _rows(self, features: Collection[str]) -> list[array[float]]:
        get, table, width = self.offsets.get, self.table, len(self.classes)
        return [table[o : o + width] for o in map(get, features) if o is not None]

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
            row = self.row(feature)
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


def pack(weights: Mapping[str, Sequence[int]]) -> dict[str, str]:
    """`features` and `weights` of an artefact (FORMAT 2) from {feature: one int16 per class}:
    a string and a byte array load in a fraction of the time and memory of a JSON object."""
    names = sorted(weights)
    if any("\n" in name for name in names):
        raise ValueError("a feature name holds a newline")
    flat = array("h", (q for name in names for q in weights[name]))
    if sys.byteorder != "little":
        flat.byteswap()
    return {"features": "\n".join(names), "weights": base64.b64encode(flat.tobytes()).decode()}


def unpack(raw: Mapping[str, Any]) -> dict[str, list[int]]:
    """The inverse of `pack`, for comparing artefacts (eval/train.py --check)."""
    names = raw["features"].split("\n") if raw["features"] else []
    flat = array("h", base64.b64decode(raw["weights"]))
    if sys.byteorder != "little":
        flat.byteswap()
    width = len(raw["classes"])
    return {name: list(flat[i * width : (i + 1) * width]) for i, name in enumerate(names)}


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
