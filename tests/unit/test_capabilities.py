"""Which server may be sent which API: a chat model is never sent an embedding and an
embedding model never a chat (endpoints.NEEDS, applied by resolve.unfit with the reason),
and the classifier never makes a chat into an embedding or a rerank, whatever its words."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import Config, parse_config
from modelyard_config.endpoints import (
    CHAT,
    COMPLETIONS,
    COUNT_TOKENS,
    EMBEDDINGS,
    MESSAGES,
    RERANK,
    RERANK_V2,
    RESPONSES,
    SCORE,
)
from proxy.classify.classifier import Classifier
from proxy.classify.features import extract
from proxy.classify.rules import candidates
from proxy.resolve import parse_model, plan, unfit

SHIPPED = ("agent", "tts", "stt", "avatar", "multimodal", "video")

BODIES: dict[str, dict[str, Any]] = {
    CHAT: {"messages": [{"role": "user", "content": "hi"}]},
    COMPLETIONS: {"prompt": "once upon a time"},
    RESPONSES: {"input": "hi"},
    MESSAGES: {"max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]},
    COUNT_TOKENS: {"messages": [{"role": "user", "content": "hi"}]},
    EMBEDDINGS: {"input": ["a text to embed"]},
    RERANK: {"query": "q", "documents": ["a", "b"]},
    RERANK_V2: {"query": "q", "documents": [{"text": "a"}]},
    SCORE: {"text_1": "q", "text_2": ["a"]},
}


@pytest.fixture(scope="module")
def config() -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {
                "chat": {"model": "c"},  # capabilities: [text]
                "full": {"model": "f", "capabilities": ["text", "responses", "messages"]},
                "embedder": {"model": "e", "capabilities": ["embedding"]},
                "reranker": {"model": "r", "capabilities": ["rerank"]},
            },
            "routes": {
                "everything": ["chat", "full", "embedder", "reranker"],
                **{name: ["chat"] for name in SHIPPED},
                "embed": ["embedder", "chat"],
                "rerank": ["reranker", "chat"],
            },
        }
    )


def chain_for(config: Config, endpoint: str) -> tuple[tuple[str, ...], dict[str, str]]:
    p = plan(config, parse_model(config, "everything"), extract(endpoint, BODIES[endpoint]))
    return p.candidates, dict(p.skipped)


def test_an_embedding_goes_to_the_embedding_server_alone(config: Config) -> None:
    kept, skipped = chain_for(config, EMBEDDINGS)
    assert kept == ("embedder",)
    assert skipped["chat"] == "cannot take embedding (capabilities: text)"
    assert "cannot take embedding" in skipped["full"]
    assert skipped["reranker"] == "cannot take embedding (capabilities: rerank)"


@pytest.mark.parametrize("endpoint", [CHAT, COMPLETIONS])
def test_a_chat_never_goes_to_a_pooling_server(config: Config, endpoint: str) -> None:
    kept, skipped = chain_for(config, endpoint)
    assert kept == ("chat", "full")
    assert skipped["embedder"] == "cannot take text (capabilities: embedding)"
    assert skipped["reranker"] == "cannot take text (capabilities: rerank)"


@pytest.mark.parametrize(
    ("endpoint", "needed"),
    [(RESPONSES, "responses"), (MESSAGES, "messages"), (COUNT_TOKENS, "messages")],
)
def test_responses_and_messages_need_their_capability(
    config: Config, endpoint: str, needed: str
) -> None:
    kept, skipped = chain_for(config, endpoint)
    assert kept == ("full",)
    assert skipped["chat"] == f"cannot take {needed} (capabilities: text)"
    assert skipped["embedder"] == f"cannot take text, {needed} (capabilities: embedding)"


@pytest.mark.parametrize("endpoint", [RERANK, RERANK_V2, SCORE])
def test_rerank_and_score_need_rerank(config: Config, endpoint: str) -> None:
    kept, skipped = chain_for(config, endpoint)
    assert kept == ("reranker",)
    assert skipped["embedder"] == "cannot take rerank (capabilities: embedding)"
    assert skipped["chat"] == "cannot take rerank (capabilities: text)"


def test_a_pooling_request_is_sized_by_its_longest_input(config: Config) -> None:
    """A batch of short texts fits a short context; one text longer than it does not."""
    spec = config.servers["embedder"].model_copy(update={"max_model_len": 10})
    assert unfit(spec, extract(EMBEDDINGS, {"input": ["x" * 40] * 100})) is None
    why = unfit(spec, extract(EMBEDDINGS, {"input": ["x" * 40, "x" * 44]}))
    assert why is not None and "max_model_len of 10" in why


# --- the classifier: an embedding or a rerank is an endpoint's, never a chat's ---------------


def classifier_config(**intents: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {"a": {"model": "m"}},
            "routes": {name: ["a"] for name in (*SHIPPED, "embed", "rerank")},
            "classifier": {"intents": intents},
        }
    )


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier(classifier_config().classifier)


def test_the_shipped_embed_and_rerank_intents_come_with_their_routes(shipped: Classifier) -> None:
    assert tuple(shipped.intents) == (*SHIPPED, "embed", "rerank")


@pytest.mark.parametrize(
    ("endpoint", "intent"),
    [(EMBEDDINGS, "embed"), (RERANK, "rerank"), (RERANK_V2, "rerank"), (SCORE, "rerank")],
)
def test_a_pooling_endpoint_is_its_intent_alone(
    shipped: Classifier, endpoint: str, intent: str
) -> None:
    decision = shipped.decide(extract(endpoint, BODIES[endpoint]))
    assert (decision.intent, decision.stage, decision.confidence) == (intent, "endpoint", 1.0)


CHATTY = "embed these passages as vectors, then rerank and score them by relevance to my query"


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        (CHAT, {"messages": [{"role": "user", "content": CHATTY}]}),
        (COMPLETIONS, {"prompt": CHATTY}),
        (RESPONSES, {"input": CHATTY}),
        (MESSAGES, {"max_tokens": 8, "messages": [{"role": "user", "content": CHATTY}]}),
    ],
)
def test_a_chat_about_embeddings_is_never_classified_embed_or_rerank(
    shipped: Classifier, endpoint: str, body: dict[str, Any]
) -> None:
    features = extract(endpoint, body)
    assert not {"embed", "rerank"} & set(candidates(shipped.intents, features).intents)
    assert shipped.decide(features).intent not in ("embed", "rerank")


def test_a_pooling_intent_with_the_same_cues_as_a_chat_intent_still_never_takes_a_chat() -> None:
    """Tied cues: embed and rerank vote with agent's own words and have no endpoint to hold
    them back; an intent that answers no text is still never a chat's."""
    cue = "summarise"
    intents = {
        "agent": {"cues": [cue], "description": "chat"},
        "embed": {"outputs": ["embedding"], "cues": [cue, "vector"], "description": "vectors"},
        "rerank": {"outputs": ["score"], "cues": [cue, "vector"], "description": "scores"},
    }
    classifier = Classifier(classifier_config(**intents).classifier)
    for endpoint, body in [
        (CHAT, {"messages": [{"role": "user", "content": "summarise this vector"}]}),
        (RESPONSES, {"input": "summarise this vector"}),
    ]:
        features = extract(endpoint, body)
        found = candidates(classifier.intents, features).intents
        assert "embed" not in found and "rerank" not in found
        decision = classifier.decide(features)
        assert decision.intent not in ("embed", "rerank"), decision.reasons
