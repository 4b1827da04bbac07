"""The load test's mix (loadtests/mix.py): every entry builds a body the proxy's own checks
accept, every `auto` entry is classified as the intent it claims (in each of its languages),
and every intent the CPU profile routes, and both audio endpoints, are in it. A mix that
drifted from the proxy would measure something else than it says (issue 14)."""

from __future__ import annotations

import json
import random
from email.parser import BytesParser
from email.policy import HTTP

import pytest

from harness.media import mp4, png, silent_wav
from harness.stack import CPU_PROFILE
from loadtests import mix, phrases
from modelyard_config import load_config
from modelyard_config.endpoints import ENDPOINTS
from proxy.app import build_classifier
from proxy.classify.classifier import Classifier
from proxy.routing import route
from proxy.validate import check_body

CONFIG = load_config(CPU_PROFILE)
MEDIA = mix.Media(png=png(), wav=silent_wav(16000), mp4=mp4())


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return build_classifier(CONFIG)


def calls(entry: mix.Entry, rounds: int = 40) -> list[mix.Call]:
    rng = random.Random(14)
    return [entry.build(MEDIA, rng) for _ in range(rounds)]


def test_weights_are_positive_and_names_unique() -> None:
    for entries in mix.MIXES.values():
        assert all(e.weight > 0 for e in entries)
        assert len({e.name for e in entries}) == len(entries)
    assert sum(e.weight for e in mix.LOAD) == 79  # a change of weights is a change of figures


def test_every_routed_intent_and_both_audio_endpoints_are_in_the_mix() -> None:
    intents = {e.intent for e in mix.LOAD if e.intent}
    assert intents >= set(CONFIG.routes)  # agent tts stt avatar multimodal video embed rerank
    paths = {call.path for e in mix.LOAD for call in calls(e, 1)}
    assert {"/v1/audio/transcriptions", "/v1/audio/speech", "/route"} <= paths
    assert any(call.stream for e in mix.LOAD for call in calls(e, 1))


@pytest.mark.parametrize("entry", mix.SOAK, ids=lambda e: e.name)
async def test_each_entry_is_accepted_and_routed_as_it_claims(
    entry: mix.Entry, classifier: Classifier
) -> None:
    config = CONFIG.model_copy(
        update={"routes": {**CONFIG.routes, mix.SLOW_ROUTE: ["tiny-qwen-b"]}}
    )
    for call in calls(entry):
        endpoint, payload = call.routed()
        assert endpoint in ENDPOINTS
        check_body(endpoint, payload, CONFIG.proxy.limits)
        routed = await route(config, classifier, endpoint, payload)
        if entry.intent is not None:
            said = json.dumps(payload, ensure_ascii=False)[:160]
            assert routed.plan.intent == entry.intent, said
            assert routed.plan.candidates or entry.intent == "tts", said  # tts: degraded


@pytest.mark.parametrize(
    ("said", "intent"),
    [
        (phrases.AGENT, "agent"),
        (phrases.TTS, "tts"),
        (phrases.STT, "stt"),
        (phrases.AVATAR, "avatar"),
        (phrases.MULTIMODAL, "multimodal"),
        (phrases.VIDEO, "video"),
    ],
)
async def test_every_phrase_in_every_language_is_classified_as_its_intent(
    said: phrases.Phrases, intent: str, classifier: Classifier
) -> None:
    part = {
        "stt": mix.audio_part(MEDIA),
        "avatar": mix.image_part(MEDIA),
        "multimodal": mix.image_part(MEDIA),
        "video": mix.video_part(MEDIA),
    }.get(intent)
    for language, text in said:
        content = [part, {"type": "text", "text": text}] if part else text
        body = {"model": "auto", "messages": [{"role": "user", "content": content}]}
        routed = await route(CONFIG, classifier, "/v1/chat/completions", body)
        assert (routed.plan.intent, routed.language.code) == (intent, language), text


def test_an_upload_is_well_formed_multipart() -> None:
    call = mix.transcription(MEDIA, random.Random(1))
    body, content_type = call.encoded()
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert parts["model"].get_content() == "whisper-1"
    assert parts["file"].get_content() == MEDIA.wav
