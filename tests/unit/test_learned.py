"""The learned stage: what it sees of a request (ngrams.py), how a model file is read and
refused (learned.py), and the shipped models on the requests the cue lexicon missed (issue:
"Routing quality"), in the languages and romanisations it must cover."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from modelyard_config import parse_config
from proxy.app import build_classifier
from proxy.classify.classifier import Classifier
from proxy.classify.features import extract
from proxy.classify.learned import LinearModel, load_models, pack
from proxy.classify.ngrams import LEARNED_CHARS, shape_features, text_features, words
from proxy.errors import ClassifierSetupError

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/face.jpg"}}
VIDEO = {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}


def config(**classifier: Any) -> Any:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {n: ["a"] for n in ("agent", "tts", "stt", "avatar", "multimodal", "video")},
            "classifier": classifier,
        }
    )


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return build_classifier(config())


def chat(text: str, *parts: dict[str, Any]) -> dict[str, Any]:
    content: Any = [*parts, {"type": "text", "text": text}] if parts else text
    return {"model": "auto", "messages": [{"role": "user", "content": content}]}


# -- what the model sees ----------------------------------------------------------------------


def test_words_keep_indian_vowel_signs_and_fold_case_digits_and_links() -> None:
    assert words("हिंदी में Script लिखो https://x.example/a?b=1 in 2024!") == [
        "हिंदी",
        "में",
        "script",
        "लिखो",
        "in",
        "0000",
    ]
    assert words("ఫోటోలోని వ్యక్తి") == ["ఫోటోలోని", "వ్యక్తి"]


def test_email_addresses_stay_as_words_and_only_links_go() -> None:
    """An e-mail pattern backtracked for 350 ms on a prompt of 2,048 '@' characters (found on a
    hostile read); addresses now pass through as the words they split into."""
    assert words("mail a@b.co or see www.x.example/a") == ["mail", "a", "b", "co", "or", "see"]
    assert words("@" * 2048) == []


def test_text_features_are_padded_ngrams_and_words() -> None:
    found = text_features("Say hi")
    assert {"w:say", "w:hi", " say", "say ", " hi ", "s", "ay"} <= found
    assert "say hi" not in found  # n-grams never cross words


def test_a_huge_prompt_is_read_only_head_and_tail() -> None:
    text = "read " * 200_000 + "aloud"
    assert len(" ".join(words(text))) <= LEARNED_CHARS + 10
    assert "w:aloud" in text_features(text)


def test_shape_features_name_attachments_and_endpoint() -> None:
    video = extract("/v1/chat/completions", chat("what happens here", VIDEO))
    assert {"s:endpoint:chat", "s:video"} <= set(shape_features(video))
    speech = extract("/v1/audio/speech", {"model": "tts-1", "input": "namaste", "voice": "a"})
    assert {"s:endpoint:speech", "s:audio_out"} <= set(shape_features(speech))


# -- model files --------------------------------------------------------------------------------


def raw_model(**changes: Any) -> dict[str, Any]:
    raw = {
        "format": 2,
        "kind": "intent",
        "classes": ["a", "b", "c"],
        "bias": [0.0, 0.0, 0.0],
        "scale": 0.5,
        "temperature": 1.0,
        **pack({"x": [4, 0, 0], "y": [0, 2, 0], "s:shape": [0, 0, 6]}),
    }
    raw.update(changes)
    return raw


def test_probabilities_are_over_the_classes_still_possible() -> None:
    model = LinearModel.from_dict(raw_model())
    both = model.probabilities({"x", "y"}, among=("a", "b"))
    assert set(both) == {"a", "b"} and sum(both.values()) == pytest.approx(1.0)
    assert both["a"] > both["b"]  # x weighs 2, y 1 (quantised 4 and 2 times the 0.5 scale)
    shaped = model.probabilities(set(), ("s:shape",))
    assert max(shaped, key=shaped.__getitem__) == "c"
    assert model.probabilities({"x"}, among=("zzz",)) == {}


def test_a_higher_temperature_makes_the_model_less_sure() -> None:
    sharp = LinearModel.from_dict(raw_model()).probabilities({"x"})
    soft = LinearModel.from_dict(raw_model(temperature=4.0)).probabilities({"x"})
    assert sharp["a"] > soft["a"] > 1 / 3


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"format": 1}, "format 1"),
        (pack({"x": [1, 2]}), "do not make one row of 3 per feature"),
        ({"weights": "not base64!"}, "malformed"),
        ({"bias": [0.0]}, "one value per class"),
        ({"classes": None}, "malformed"),
    ],
)
def test_a_malformed_model_is_refused_with_what_is_wrong(
    changes: dict[str, Any], says: str
) -> None:
    with pytest.raises(ClassifierSetupError, match=says):
        LinearModel.from_dict(raw_model(**changes))


def test_learned_none_turns_the_stage_off_and_a_missing_directory_names_the_key(
    tmp_path: Path,
) -> None:
    assert load_models("none") == (None, None)
    with pytest.raises(ClassifierSetupError, match=r"classifier.learned: .*intent.json.gz"):
        build_classifier(config(learned=str(tmp_path)))


def test_a_model_of_the_wrong_kind_is_refused(tmp_path: Path) -> None:
    for kind in ("intent", "language"):
        with gzip.open(tmp_path / f"{kind}.json.gz", "wt") as handle:
            json.dump(raw_model(kind="language"), handle)
    with pytest.raises(ClassifierSetupError, match="holds a language model"):
        load_models(str(tmp_path))


def test_a_corrupt_model_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "intent.json.gz").write_bytes(b"not gzip")
    (tmp_path / "language.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ClassifierSetupError, match="cannot read it"):
        load_models(str(tmp_path))


# -- the shipped models -------------------------------------------------------------------------

# The issue's own misses, asked in words the cue lexicon lacked, that the n-grams alone get
# right. Two more (a Bengali "play this line", the Telugu photo that should speak) need the
# embedding head: tests/component/test_embedding.py.
MISSES = [
    ("tts", chat("ఈ వాక్యాన్ని గట్టిగా చదివి వినిపించు: రేపు బడికి సెలవు")),  # te: read aloud
    ("tts", chat("આ વાક્ય બોલી સંભળાવો: કાલે મીટિંગ દસ વાગ્યે છે")),  # gu: say this
    ("avatar", chat("Animate this portrait as a virtual presenter reading our welcome", IMAGE)),
]


@pytest.mark.parametrize(("intent", "body"), MISSES)
def test_the_issues_misses_are_routed_right(
    classifier: Classifier, intent: str, body: dict[str, Any]
) -> None:
    decision = classifier.decide(extract("/v1/chat/completions", body))
    assert (decision.intent, decision.stage) == (intent, "learned"), decision.reasons


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("hi", "bhai is photo mein kya likha hai zara batao"),
        ("ta", "indha photo la enna ezhudhi irukku nu sollu"),
        ("te", "ee photo lo enti rasi undi cheppu"),
        ("bn", "ei chobi te ki lekha ache bolo to"),
        ("mr", "या फोटोमध्ये काय लिहिले आहे ते सांगा"),
        ("en", "what is written in this photo"),
    ],
)
def test_romanised_and_devanagari_languages_are_told_apart(
    classifier: Classifier, language: str, text: str
) -> None:
    decision = classifier.decide(extract("/v1/chat/completions", chat(text, IMAGE)))
    assert decision.language.code == language
    assert decision.language.romanised == (language not in ("en", "mr"))


def test_an_intent_added_by_config_is_decided_by_its_cues_not_lost_to_the_model() -> None:
    legal = config(intents={"legal": {"route": "agent", "cues": ["contract*", "lawsuit"]}})
    decision = build_classifier(legal).decide(
        extract("/v1/chat/completions", chat("Review this contract before the lawsuit"))
    )
    assert (decision.intent, decision.stage) == ("legal", "cues")


def test_confidence_is_a_probability_and_reasons_say_what_the_model_weighed(
    classifier: Classifier,
) -> None:
    decision = classifier.decide(
        extract("/v1/chat/completions", chat("Write a Python function that reverses a list"))
    )
    assert (decision.intent, decision.stage) == ("agent", "learned")
    assert 0.5 < decision.confidence <= 1.0
    assert decision.reasons[-1].startswith("learned: agent ")


async def test_an_unsure_learned_decision_asks_triage_among_every_intent_possible() -> None:
    asked: list[tuple[str, ...]] = []

    async def triage(text: str, tied: Any) -> tuple[str | None, str]:
        asked.append(tuple(tied))
        return "avatar", "llm chose avatar"

    models = load_models("builtin")
    unsure = Classifier(config().classifier, None, triage, *models)
    body = chat("Narrate this as a talking head video: good morning")
    decision = await unsure.classify(extract("/v1/chat/completions", body))
    assert asked and set(asked[0]) == {"agent", "tts", "avatar"}
    assert (decision.intent, decision.stage) == ("avatar", "triage")
    sure = await unsure.classify(extract("/v1/chat/completions", chat("Write a Python function")))
    assert sure.stage == "learned" and len(asked) == 1  # 0.9 or more: triage is not asked
