"""Cue phrase syntax: case, separators, `...` gaps, word edges and stems, Indian-script
inflection, quoted spans that must not vote, and distinct hits."""

from __future__ import annotations

import pytest

from modelyard_config.intents import default_intents
from proxy.classify.cues import CueSet, unquoted


def hits(phrase: str, text: str) -> list[str]:
    return CueSet.compile({"x": [phrase]}).matches(text, ["x"]).get("x", [])


@pytest.mark.parametrize("text", ["LIP SYNC", "Lip Sync", "lip sync"])
def test_case_is_ignored(text: str) -> None:
    assert hits("Lip Sync", text) == ["lip sync"]


@pytest.mark.parametrize("text", ["lip-sync", "lipsync", "lip_sync", "lip  sync", "Lip-Sync"])
def test_a_space_matches_a_hyphen_an_underscore_or_nothing(text: str) -> None:
    assert hits("lip sync", f"please {text} this face") == [text.casefold()]


def test_a_space_does_not_match_other_letters() -> None:
    assert hits("lip sync", "lips in sync") == []


@pytest.mark.parametrize(
    "text",
    [
        "make say",
        "make her say",
        "make the man in it say",
        "make one two three four five say",
    ],
)
def test_gap_spans_up_to_five_words(text: str) -> None:
    assert hits("make ... say", text) == [text]


def test_gap_of_six_words_is_too_far() -> None:
    assert hits("make ... say", "make one two three four five six say") == []


def test_gap_keeps_the_order_of_its_parts() -> None:
    assert hits("make ... say", "say it and make it") == []


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("api", "a rapid prototype"),
        ("api", "apis"),
        ("lib", "the library"),
        ("code", "encode it"),
        ("tts", "mitts"),
    ],
)
def test_latin_phrases_match_whole_words_only(phrase: str, text: str) -> None:
    assert hits(phrase, text) == []


@pytest.mark.parametrize("text", ["call the API.", "api_key", "(api)", "2 api calls"])
def test_latin_phrase_found_between_punctuation(text: str) -> None:
    assert hits("api", text) == ["api"]


@pytest.mark.parametrize("text", ["narrate", "Narration", "narrator", "narrating this"])
def test_star_is_a_stem(text: str) -> None:
    assert hits("narrat*", text) == ["narrat"]


def test_stem_still_starts_at_a_word() -> None:
    assert hits("narrat*", "denarrate") == []


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("अवतार", "एक बोलता हुआ अवतारों वाला वीडियो"),  # Hindi: plural suffix
        ("पाइथन", "पाइथनमें लिखो"),  # Hindi: postposition written joined
        ("পাইথন", "পাইথনে একটি ফাংশন লেখো"),  # Bengali: locative suffix
        ("லிப் சிங்க்", "லிப் சிங்க் செய்"),  # Tamil: spaced as written
    ],
)
def test_indian_script_phrases_match_inside_words(phrase: str, text: str) -> None:
    assert hits(phrase, text)


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("அவதார்", "ஒரு பேசும் அவதாரை உருவாக்கு"),  # Tamil accusative replaces the pulli
        ("अवतार्", "अवतारों को बोलने दो"),  # Devanagari halant
        ("ಅವತಾರ್", "ಅವತಾರವನ್ನು ಮಾಡಿ"),  # Kannada virama
    ],
)
def test_final_virama_is_dropped_so_inflections_match(phrase: str, text: str) -> None:
    assert hits(phrase, text) == [phrase[:-1]]


def test_virama_inside_a_phrase_is_kept() -> None:
    # "ப்ர" is a conjunct: dropping an inner pulli would find the wrong word.
    assert hits("ப்ரோ", "பரோ") == []


@pytest.mark.parametrize(
    "text",
    [
        "read this aloud: 'the library closes at 8'",
        'read this aloud: "the library closes at 8"',
        "read this aloud: \u2018the library closes at 8\u2019",
        "read this aloud: \u201cthe library closes at 8\u201d",
    ],
)
def test_quoted_spans_are_not_searched(text: str) -> None:
    assert hits("library", text) == []
    assert hits("aloud", text) == ["aloud"]


@pytest.mark.parametrize(
    "text",
    [
        "don't touch the library, it's fine",
        "she's at the library and won't leave",
        "the students' library",
    ],
)
def test_apostrophes_in_words_do_not_start_a_quote(text: str) -> None:
    assert hits("library", text) == ["library"]


def test_apostrophes_around_a_real_quote_leave_it_quoted() -> None:
    text = "she's reading 'the library rules' aloud, don't stop her"
    assert hits("library", text) == []
    assert hits("aloud", text) == ["aloud"]


def test_a_quote_with_an_apostrophe_inside_is_still_ignored() -> None:
    # "read this aloud: 'it's time to close the library'": the quote is what to say, so
    # "library" must not vote for the coding agent any more than without the apostrophe.
    assert hits("library", "read this aloud: 'it's time to close the library'") == []


def test_unquoted_leaves_text_without_quotes_alone() -> None:
    text = "don't go to the library, it's closed"
    assert unquoted(text) == text


def test_repeated_hits_count_once() -> None:
    assert hits("code", "code, Code and CODE") == ["code"]


def test_distinct_hits_across_phrases_of_one_intent() -> None:
    cues = CueSet.compile({"agent": ["python", "function*", "code"]})
    found = cues.matches("Write Python code: a function, then more python", ["agent"])
    assert sorted(found["agent"]) == ["code", "function", "python"]


def test_overlapping_phrases_count_once() -> None:
    # Matches do not overlap (the module docstring): "read ... for me" takes "out loud" with
    # it, so the stretch of text votes once, not once per phrase inside it.
    cues = CueSet.compile({"tts": ["read ... for me", "out loud"]})
    assert cues.matches("read this out loud for me", ["tts"])["tts"] == [
        "read this out loud for me"
    ]
    assert len(cues.matches("out loud, and read it for me", ["tts"])["tts"]) == 2


def test_matches_only_the_intents_asked_for_and_only_those_with_hits() -> None:
    cues = CueSet.compile({"tts": ["aloud"], "agent": ["python"], "stt": ["transcri*"]})
    found = cues.matches("read the python docs aloud", ["tts", "stt", "unknown"])
    assert found == {"tts": ["aloud"]}


def test_intent_without_phrases_compiles_to_nothing() -> None:
    cues = CueSet.compile({"multimodal": [], "blank": ["  "], "tts": ["aloud"]})
    assert set(cues.patterns) == {"tts"}
    assert cues.matches("aloud", ["multimodal", "blank", "tts"]) == {"tts": ["aloud"]}


def test_every_shipped_cue_finds_its_own_words() -> None:
    # A typo in a regex-like phrase (a stray '*' or '...') would make a cue that never fires.
    for intent, spec in default_intents().items():
        for phrase in spec.get("cues") or []:
            text = phrase.replace("...", "then").rstrip("*")
            assert hits(phrase, f"({text})"), (intent, phrase)
