"""The intent classifier's stages with the shipped intents: rules, cues, default, and triage on
a tie; English, Hindi (Devanagari and romanised), Tamil and Bengali; the hard cases where a
topic word or a quoted phrase must not decide; intents added by config alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from modelyard_config import Config, parse_config
from proxy.classify.classifier import Classifier, Decision
from proxy.classify.features import Features, extract
from proxy.triage import parse_answer, prompt

INTENTS = ("agent", "tts", "stt", "avatar", "multimodal", "video")

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/face.jpg"}}
AUDIO = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
VIDEO = {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}


def config_with(classifier: dict[str, Any] | None = None, **routes: list[str]) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {**{name: ["a"] for name in INTENTS}, **routes},
            "classifier": classifier or {},
        }
    )


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(config_with().classifier)


def chat(text: str, *parts: dict[str, Any]) -> Features:
    content: Any = [*parts, {"type": "text", "text": text}] if parts else text
    return extract("/v1/chat/completions", {"messages": [{"role": "user", "content": content}]})


# (intent, language, text, attached parts)
EXAMPLES = [
    ("agent", "en", "Write a Python function that removes duplicates from a list.", ()),
    ("agent", "en", "Explain the difference between TCP and UDP.", ()),
    ("agent", "hi", "पाइथन में एक फंक्शन लिखो", ()),
    ("agent", "hi", "mujhe ek script likh do", ()),
    ("agent", "ta", "பைதான் நிரல் எழுது", ()),
    ("agent", "bn", "পাইথনে একটি ফাংশন লেখো", ()),
    ("tts", "en", "Read this announcement aloud in a calm female voice.", ()),
    ("tts", "en", "Narrate this story for my daughter.", ()),
    ("tts", "hi", "इसे ज़ोर से पढ़कर सुनाओ।", ()),
    ("tts", "hi", "is message ko awaaz mein bol ke sunao", ()),
    ("tts", "ta", "இந்த அறிவிப்பை சத்தமாக வாசித்துக் காட்டு.", ()),
    ("tts", "bn", "এই ঘোষণাটা জোরে পড়ে শোনাও।", ()),
    ("avatar", "en", "Make the person in this photo say 'Welcome to our store'.", (IMAGE,)),
    ("avatar", "hi", "इस फोटो वाले व्यक्ति से बुलवाओ 'नमस्ते'।", (IMAGE,)),
    ("avatar", "hi", "एक बोलता हुआ अवतार बनाओ", ()),
    ("avatar", "hi", "ek bolta hua avatar banao jo 'happy birthday' bole", ()),
    ("avatar", "ta", "இந்த முகத்துக்கு லிப் சிங்க் செய்து 'வணக்கம்' என்று சொல்ல வை.", (IMAGE,)),
    ("avatar", "ta", "ஒரு பேசும் அவதாரை உருவாக்கு", ()),
    ("avatar", "bn", "এই ছবির মানুষটাকে দিয়ে 'নমস্কার' বলাও", (IMAGE,)),
    ("avatar", "bn", "একটা কথা বলা অবতার বানাও", ()),
    ("stt", "en", "Transcribe this recording.", (AUDIO,)),
    ("stt", "hi", "इस रिकॉर्डिंग को लिख दो।", (AUDIO,)),
    ("stt", "hi", "is recording ko likh do", (AUDIO,)),
    ("stt", "ta", "இந்த ஒலிப்பதிவை எழுத்தாக மாற்று.", (AUDIO,)),
    ("stt", "bn", "এই রেকর্ডিংটা লিখে দাও", (AUDIO,)),
    ("multimodal", "en", "Describe this image.", (IMAGE,)),
    ("multimodal", "hi", "इस तस्वीर में क्या है?", (IMAGE,)),
    ("multimodal", "hi", "is photo mein kya likha hai?", (IMAGE,)),
    ("multimodal", "ta", "இந்த ரசீதில் மொத்தத் தொகை என்ன?", (IMAGE,)),
    ("multimodal", "bn", "এই ছবিতে কী আছে?", (IMAGE,)),
    ("video", "en", "What happens in this clip?", (VIDEO,)),
    ("video", "hi", "इस वीडियो का सारांश बताओ।", (VIDEO,)),
    ("video", "hi", "is video mein kya ho raha hai?", (VIDEO,)),
    ("video", "ta", "இந்தக் காணொளியைச் சுருக்கமாகச் சொல்.", (VIDEO,)),
    ("video", "bn", "এই ভিডিওতে কী হচ্ছে?", (VIDEO,)),
]


@pytest.mark.parametrize(("intent", "language", "text", "parts"), EXAMPLES)
def test_examples_in_five_languages(
    classifier: Classifier,
    intent: str,
    language: str,
    text: str,
    parts: tuple[dict[str, Any], ...],
) -> None:
    decision = classifier.decide(chat(text, *parts))
    assert (decision.intent, decision.language.code) == (intent, language)


def test_coding_prompt_about_text_to_speech_is_agent(classifier: Classifier) -> None:
    decision = classifier.decide(
        chat("Write a Python function that converts text to speech with pyttsx3")
    )
    assert (decision.intent, decision.stage) == ("agent", "cues")
    assert "cues: tts: 'text to speech'" in decision.reasons
    assert any(r.startswith("cues: agent:") and "'python'" in r for r in decision.reasons)


def test_quoted_words_do_not_vote(classifier: Classifier) -> None:
    decision = classifier.decide(chat("read this aloud: 'the library closes at 8'"))
    assert (decision.intent, decision.stage) == ("tts", "cues")
    assert not any("library" in r for r in decision.reasons)


def test_image_with_make_her_say_is_avatar(classifier: Classifier) -> None:
    decision = classifier.decide(chat("make her say 'hello'", IMAGE))
    assert (decision.intent, decision.stage) == ("avatar", "cues")
    assert decision.modalities == ["text", "image"]
    assert "cues: avatar: 'make her say'" in decision.reasons


def test_question_about_lips_in_a_video_is_video(classifier: Classifier) -> None:
    decision = classifier.decide(chat("are the singer's lips in sync?", VIDEO))
    assert decision.intent == "video"
    assert decision.tied == ("video", "avatar")


def test_text_question_mentioning_video_is_agent(classifier: Classifier) -> None:
    decision = classifier.decide(chat("What is a good length for a product video on YouTube?"))
    assert decision.intent == "agent"


@pytest.mark.parametrize(
    ("endpoint", "body", "intent"),
    [
        ("/v1/audio/speech", {"input": "Write a Python function", "voice": "alloy"}, "tts"),
        ("/v1/audio/transcriptions", {"prompt": "make her say hello"}, "stt"),
    ],
)
def test_endpoint_decides_alone_with_full_confidence(
    classifier: Classifier, endpoint: str, body: dict[str, Any], intent: str
) -> None:
    decision = classifier.decide(extract(endpoint, body))
    assert (decision.intent, decision.stage, decision.confidence) == (intent, "endpoint", 1.0)
    assert decision.tied == ()


def test_single_candidate_from_inputs_is_rules_with_full_confidence(
    classifier: Classifier,
) -> None:
    decision = classifier.decide(chat("Write a Python function", IMAGE, AUDIO))
    assert (decision.intent, decision.stage, decision.confidence) == ("avatar", "rules", 1.0)
    assert decision.reasons == ["rules: inputs text+image+audio: avatar"]


def test_audio_out_is_tts_with_full_confidence(classifier: Classifier) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "modalities": ["text", "audio"]}
    decision = classifier.decide(extract("/v1/chat/completions", body))
    assert (decision.intent, decision.stage, decision.confidence) == ("tts", "rules", 1.0)


def test_cue_decision_records_the_matched_cue_and_a_partial_confidence(
    classifier: Classifier,
) -> None:
    decision = classifier.decide(chat("Please say this out loud"))
    assert (decision.intent, decision.stage) == ("tts", "cues")
    assert decision.reasons[0] == "rules: inputs text: agent, tts, avatar"
    assert any(r.startswith("cues: tts:") and "'out loud'" in r for r in decision.reasons)
    assert 0.0 < decision.confidence < 1.0
    assert decision.tied == ("tts", "agent")


def test_more_cues_mean_more_confidence(classifier: Classifier) -> None:
    one = classifier.decide(chat("Narrate this story."))
    two = classifier.decide(chat("Narrate this story aloud in a calm voice."))
    assert one.intent == two.intent == "tts"
    assert two.confidence > one.confidence


def test_the_most_specific_candidate_breaks_an_even_cue_count(classifier: Classifier) -> None:
    decision = classifier.decide(chat("Write python for my audiobook"))
    assert (decision.intent, decision.tied) == ("agent", ("agent", "tts"))
    assert decision.confidence > 0.0


def test_no_cue_falls_to_the_most_specific_candidate(classifier: Classifier) -> None:
    decision = classifier.decide(chat("Summarise the plot of the film Lagaan"))
    assert (decision.intent, decision.stage) == ("agent", "rules")
    assert len(decision.reasons) == 1


def test_image_without_text_is_classified(classifier: Classifier) -> None:
    body = {"messages": [{"role": "user", "content": [IMAGE]}]}
    decision = classifier.decide(extract("/v1/chat/completions", body))
    assert decision.intent == "multimodal"
    assert decision.modalities == ["image"]
    assert decision.language.code == "und"


def test_timing_is_recorded(classifier: Classifier) -> None:
    decision = classifier.decide(chat("Transcribe this recording.", AUDIO))
    assert isinstance(decision.classify_ms, float)
    assert decision.classify_ms >= 0.0


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("mujhe ek script likh do", "hi"),
        ("இந்த அறிவிப்பை சத்தமாக வாசித்துக் காட்டு.", "ta"),
        ("Please say this out loud", "en"),
    ],
)
def test_language_comes_from_the_text(classifier: Classifier, text: str, code: str) -> None:
    assert classifier.decide(chat(text)).language.code == code


def test_transcription_language_field_wins_over_the_prompt(classifier: Classifier) -> None:
    features = extract(
        "/v1/audio/transcriptions", {"prompt": "Names: Rahul, Priya.", "language": "bn"}
    )
    decision = classifier.decide(features)
    assert (decision.language.code, decision.language.confidence) == ("bn", 1.0)


def test_user_intent_from_config_alone() -> None:
    config = config_with(
        {
            "intents": {
                "legal": {
                    "route": "legal",
                    "description": "contracts and disputes",
                    "cues": ["contract*", "lawsuit", "sue"],
                }
            }
        },
        legal=["a"],
    )
    classifier = Classifier(config.classifier)
    decision = classifier.decide(
        chat("Review this contract and tell me whether I can file a lawsuit")
    )
    assert (decision.intent, decision.stage) == ("legal", "cues")
    assert "cues: legal: 'contract', 'lawsuit'" in decision.reasons
    # and it does not take prompts without its cues
    assert classifier.decide(chat("Write a Python function")).intent == "agent"


def test_no_intent_fits_gives_the_default() -> None:
    config = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {"chat": ["a"]},
            "classifier": {
                "default_intents": False,
                "default": "chat",
                "intents": {"chat": {}},
            },
        }
    )
    decision = Classifier(config.classifier).decide(chat("describe", IMAGE))
    assert (decision.intent, decision.stage, decision.confidence) == ("chat", "default", 0.0)
    assert decision.reasons == ["rules: inputs text+image: no intent fits", "default: chat"]


# Two user intents with the same cue: the cue stage cannot tell them apart, and a threshold
# above its confidence hands the tie to triage.
def tied_config(default: str = "alpha") -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {"r": ["a"]},
            "classifier": {
                "default_intents": False,
                "default": default,
                "threshold": 0.5,
                "intents": {
                    "alpha": {"route": "r", "cues": ["invoice"], "description": "billing"},
                    "beta": {"route": "r", "cues": ["invoice"], "description": "accounting"},
                    "gamma": {"route": "r", "accepts": ["text", "image"], "requires": ["image"]},
                },
            },
        }
    )


class FakeTriage:
    """Answers from a script and records what it was asked."""

    def __init__(self, answer: str | None, reason: str) -> None:
        self.answer = answer
        self.reason = reason
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def __call__(self, text: str, tied: Sequence[str]) -> tuple[str | None, str]:
        self.calls.append((text, tuple(tied)))
        return self.answer, self.reason


def test_tie_leaves_decide_unsure() -> None:
    decision = Classifier(tied_config().classifier).decide(chat("an invoice question"))
    assert (decision.intent, decision.stage) == ("alpha", "cues")
    assert decision.tied == ("alpha", "beta")
    assert decision.confidence < 0.5


async def test_triage_picks_on_a_tie() -> None:
    triage = FakeTriage("beta", "llm chose beta")
    classifier = Classifier(tied_config().classifier, triage=triage)
    decision = await classifier.classify(chat("an invoice question"))
    assert triage.calls == [("an invoice question", ("alpha", "beta"))]
    assert (decision.intent, decision.stage, decision.confidence) == ("beta", "triage", 1.0)
    assert decision.reasons[-1] == "triage: llm chose beta"
    assert "cues: alpha: 'invoice'" in decision.reasons
    assert decision.classify_ms >= 0.0


async def test_triage_without_an_answer_falls_back_to_the_default() -> None:
    triage = FakeTriage(None, "llm did not answer within 2 s")
    classifier = Classifier(tied_config(default="beta").classifier, triage=triage)
    decision = await classifier.classify(chat("an invoice question"))
    assert (decision.intent, decision.stage) == ("beta", "default")
    assert decision.reasons[-2:] == ["triage: llm did not answer within 2 s", "default: beta"]


async def test_default_outside_the_tie_falls_back_to_the_cue_winner() -> None:
    triage = FakeTriage(None, "llm failed")
    classifier = Classifier(tied_config(default="gamma").classifier, triage=triage)
    decision = await classifier.classify(chat("an invoice question"))
    assert (decision.intent, decision.stage) == ("alpha", "default")
    assert decision.reasons[-1] == "default: alpha"


async def test_triage_is_not_asked_when_the_cues_are_sure() -> None:
    triage = FakeTriage("tts", "should not be asked")
    classifier = Classifier(config_with().classifier, triage=triage)
    decision = await classifier.classify(chat("Explain the difference between TCP and UDP."))
    assert (decision.intent, decision.stage) == ("agent", "cues")
    assert triage.calls == []


async def test_triage_is_not_asked_without_text() -> None:
    triage = FakeTriage("beta", "should not be asked")
    classifier = Classifier(tied_config().classifier, triage=triage)
    body = {"messages": [{"role": "user", "content": [IMAGE]}]}
    decision = await classifier.classify(extract("/v1/chat/completions", body))
    assert decision.intent == "gamma"
    assert triage.calls == []


async def test_classify_matches_decide_without_later_stages(classifier: Classifier) -> None:
    features = chat("is message ko awaaz mein bol ke sunao")
    sync, async_ = classifier.decide(features), await classifier.classify(features)
    assert _without_timing(sync) == _without_timing(async_)


def _without_timing(decision: Decision) -> tuple[Any, ...]:
    return (decision.intent, decision.confidence, decision.stage, decision.reasons, decision.tied)


def test_triage_prompt_lists_only_the_tied_intents_with_descriptions() -> None:
    intents = tied_config().classifier.intents
    text = prompt(intents, ["beta", "gamma"])
    assert "- beta: accounting\n- gamma: gamma" in text
    assert "alpha" not in text
    assert "exactly one of these intent names" in text


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("beta", "beta"),
        ("Beta.", "beta"),
        ("The intent is ALPHA", "alpha"),
        ("beta, not alpha", "beta"),
        ("gamma", None),
        ("alphabet", None),
        ("", None),
    ],
)
def test_parse_answer_takes_the_first_tied_name_as_a_word(
    answer: str, expected: str | None
) -> None:
    assert parse_answer(answer, ["alpha", "beta"]) == expected


def test_parse_answer_accepts_names_with_hyphens_and_underscores() -> None:
    assert parse_answer("legal-aid", ["legal", "legal-aid"]) == "legal-aid"
    assert parse_answer("it is speech_to_text", ["speech_to_text"]) == "speech_to_text"


@pytest.mark.parametrize("name", ["Legal", "legal.v2"])
def test_parse_answer_finds_any_valid_intent_name(name: str) -> None:
    # Config allows capitals and dots in intent names (modelyard_config.fields.Name).
    assert parse_answer(name, [name, "agent"]) == name
