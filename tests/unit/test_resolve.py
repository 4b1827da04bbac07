"""How the `model` field and the request's inputs pick the servers: auto, intents, routes,
servers and aliases; chains filtered by capability and context length, with reasons."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import Config, parse_config
from modelyard_config.servers import ServerSpec
from proxy.classify.features import Features, extract
from proxy.errors import ModelNotFoundError
from proxy.resolve import Kind, Slot, Target, model_ids, parse_model, plan, unfit

IMAGE = {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}}


@pytest.fixture
def config() -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {
                "big": {"model": "m1", "capabilities": ["text", "tools"], "max_model_len": 1000},
                "small": {"model": "m2"},
                "vl": {"model": "m3", "capabilities": ["text", "image", "video"]},
                "whisper": {"model": "m4", "capabilities": ["transcription"]},
                "speaker": {"model": "m5", "capabilities": ["speech"]},
                "hearer": {"model": "m7", "capabilities": ["text", "audio_in"]},
                "spare": {"model": "m6"},
            },
            "routes": {
                "agent": ["big", "small"],
                "tts": ["speaker", "big"],
                "stt": ["whisper", "small"],
                "avatar": ["vl"],
                "multimodal": ["vl", "small"],
                "video": ["vl"],
                "fast": ["small"],
            },
            "aliases": {"gpt-4o": "agent", "quick": "fast", "whisper-1": "whisper"},
            "classifier": {"intents": {"chat": {"route": "agent"}}},
        }
    )


def chat(text: str = "hi", *parts: dict[str, Any], **extra: Any) -> Features:
    content: Any = [*parts, {"type": "text", "text": text}] if parts else text
    body = {"messages": [{"role": "user", "content": content}], **extra}
    return extract("/v1/chat/completions", body)


@pytest.mark.parametrize("model", [None, "", "auto"])
def test_auto_empty_or_absent(config: Config, model: str | None) -> None:
    assert parse_model(config, model) == Target(model or "auto", "auto", None)


@pytest.mark.parametrize(
    ("model", "kind", "name"),
    [
        ("multimodal", "intent", "multimodal"),  # an intent that is also a route
        ("chat", "intent", "chat"),  # an intent served by another route
        ("fast", "route", "fast"),
        ("vl", "server", "vl"),
        ("quick", "route", "fast"),  # alias to a route
        ("whisper-1", "server", "whisper"),  # alias to a server
        ("gpt-4o", "intent", "agent"),  # alias to a route that is also an intent
    ],
)
def test_parse_model_names(config: Config, model: str, kind: Kind, name: str) -> None:
    assert parse_model(config, model) == Target(model, kind, name)


def test_unknown_model_is_404_on_the_model_param(config: Config) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        parse_model(config, "gpt-5")
    body = info.value.body()["error"]
    assert (info.value.status, body["code"], body["param"]) == (404, "model_not_found", "model")
    assert "'gpt-5'" in body["message"]


def test_auto_uses_the_classified_intents_route(config: Config) -> None:
    p = plan(config, parse_model(config, "auto"), chat(), intent="tts")
    assert (p.requested, p.intent, p.route) == ("auto", "tts", "tts")
    # a chat classified tts: the speech server cannot chat, the text server can
    assert (p.candidates, p.server) == (("big",), "big")
    assert p.skipped == (("speaker", "cannot take text (capabilities: speech)"),)


def test_intent_uses_its_route_without_classification(config: Config) -> None:
    p = plan(config, parse_model(config, "chat"), chat(), intent="tts")
    assert (p.intent, p.route, p.candidates) == ("chat", "agent", ("big", "small"))


def test_route_name_gives_the_route_and_its_intent(config: Config) -> None:
    p = plan(config, parse_model(config, "multimodal"), chat())
    assert (p.intent, p.route, p.candidates) == ("multimodal", "multimodal", ("vl", "small"))
    p = plan(config, parse_model(config, "quick"), chat())
    assert (p.requested, p.intent, p.route, p.candidates) == ("quick", None, "fast", ("small",))


def test_server_goes_first_then_the_rest_of_its_route(config: Config) -> None:
    p = plan(config, parse_model(config, "small"), chat())
    assert (p.intent, p.route, p.candidates) == ("agent", "agent", ("small", "big"))


def test_server_already_first_in_its_route_is_not_repeated(config: Config) -> None:
    p = plan(config, parse_model(config, "big"), chat())
    assert p.candidates == ("big", "small")
    audio = extract("/v1/audio/transcriptions", {"model": "whisper-1"})
    p = plan(config, parse_model(config, "whisper-1"), audio)
    assert (p.requested, p.intent, p.route) == ("whisper-1", "stt", "stt")
    assert (p.candidates, [s for s, _ in p.skipped]) == (("whisper",), ["small"])


def test_server_outside_every_route_stands_alone(config: Config) -> None:
    p = plan(config, parse_model(config, "spare"), chat())
    assert (p.intent, p.route, p.candidates) == (None, None, ("spare",))


def test_image_skips_a_text_only_server_and_keeps_an_image_one(config: Config) -> None:
    p = plan(config, parse_model(config, "auto"), chat("what is this?", IMAGE), "multimodal")
    assert p.candidates == ("vl",)
    ((server, why),) = p.skipped
    assert server == "small"
    assert "image" in why and "capabilities: text" in why


def test_tools_need_the_tools_capability(config: Config) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    p = plan(config, parse_model(config, "agent"), chat("call f", tools=tools))
    assert p.candidates == ("big",)
    assert [s for s, _ in p.skipped] == ["small"]
    assert "tools" in p.skipped[0][1]


def test_a_prompt_longer_than_the_context_is_skipped(config: Config) -> None:
    long = chat("x" * 2000, max_tokens=501)  # 500 prompt tokens at least, plus 501
    p = plan(config, parse_model(config, "agent"), long)
    assert p.candidates == ("small",)
    ((server, why),) = p.skipped
    assert server == "big"
    assert "1001" in why and "max_model_len of 1000" in why


def test_a_prompt_that_just_fits_the_context_is_kept(config: Config) -> None:
    fits = chat("x" * 2000, max_tokens=500)
    assert plan(config, parse_model(config, "agent"), fits).candidates == ("big", "small")


def test_nothing_fits_gives_no_candidates_and_every_reason(config: Config) -> None:
    p = plan(config, parse_model(config, "fast"), chat("a picture", IMAGE, tools=[{"x": 1}]))
    assert p.candidates == ()
    assert [s for s, _ in p.skipped] == ["small"]
    assert "image, tools" in p.skipped[0][1]


@pytest.mark.parametrize("endpoint", ["/v1/audio/transcriptions", "/v1/audio/translations"])
def test_transcription_needs_the_transcription_endpoint(config: Config, endpoint: str) -> None:
    p = plan(config, parse_model(config, "stt"), extract(endpoint, {"model": "stt"}))
    assert p.candidates == ("whisper",)
    assert p.skipped[0][0] == "small" and "transcription" in p.skipped[0][1]
    # a chat model that hears audio parts still does not serve the transcription endpoint
    assert "transcription" in str(unfit(config.servers["hearer"], extract(endpoint, {})))


def test_speech_needs_the_speech_endpoint(config: Config) -> None:
    features = extract("/v1/audio/speech", {"input": "hello", "voice": "alloy"})
    p = plan(config, parse_model(config, "tts"), features)
    assert p.candidates == ("speaker",)
    assert p.skipped[0][0] == "big" and "speech" in p.skipped[0][1]


def test_chat_with_audio_parts_needs_audio_in(config: Config) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    assert unfit(config.servers["hearer"], chat("what is said?", audio)) is None
    assert "audio_in" in str(unfit(config.servers["big"], chat("what is said?", audio)))


def test_chat_asking_for_audio_out_needs_audio_out(config: Config) -> None:
    features = extract("/v1/chat/completions", {"messages": [], "modalities": ["text", "audio"]})
    assert "audio_out" in str(unfit(config.servers["big"], features))
    assert "text" in str(unfit(config.servers["speaker"], features))


def test_chat_needs_text(config: Config) -> None:
    why = unfit(config.servers["whisper"], chat())
    assert why == "cannot take text (capabilities: transcription)"


def test_unfit_is_none_for_a_server_that_can(config: Config) -> None:
    assert unfit(config.servers["vl"], chat("what is this?", IMAGE)) is None


def test_context_limit_counts_four_chars_a_token() -> None:
    spec = ServerSpec(model="m", max_model_len=10)
    assert unfit(spec, Features("/v1/completions", prompt_chars=43)) is None  # 10 tokens
    assert unfit(spec, Features("/v1/completions", prompt_chars=44)) is not None  # 11
    assert unfit(spec, Features("/v1/completions", prompt_chars=4, max_tokens=10)) is not None


def test_context_limit_counts_the_servers_max_tokens_ceiling() -> None:
    """The body a server with a ceiling gets asks for at most the ceiling, so a request that
    asks for more still fits, and one that asks for nothing is counted at the ceiling."""
    spec = ServerSpec(model="m", max_model_len=10, max_tokens=4)
    assert unfit(spec, Features("/v1/completions", prompt_chars=24, max_tokens=100)) is None
    assert unfit(spec, Features("/v1/completions", prompt_chars=24)) is None  # 6 + 4
    assert unfit(spec, Features("/v1/completions", prompt_chars=28)) is not None  # 7 + 4


def test_model_ids_lists_every_name(config: Config) -> None:
    assert model_ids(config) == [
        ("auto", "auto"),
        ("big", "server"),
        ("small", "server"),
        ("vl", "server"),
        ("whisper", "server"),
        ("speaker", "server"),
        ("hearer", "server"),
        ("spare", "server"),
        ("agent", "route"),
        ("tts", "route"),
        ("stt", "route"),
        ("avatar", "route"),
        ("multimodal", "route"),
        ("video", "route"),
        ("fast", "route"),
        ("chat", "intent"),
        ("gpt-4o", "alias"),
        ("quick", "alias"),
        ("whisper-1", "alias"),
    ]


# --- groups: balancing among equals (issue 16) ------------------------------------------


@pytest.fixture
def grouped() -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {
                "q1": {"model": "qwen", "capabilities": ["text", "image"]},
                "q2": {"model": "qwen", "capabilities": ["text", "image"]},
                "q3": {"model": "qwen", "capabilities": ["text"]},
                "small": {"model": "phi", "capabilities": ["text", "image"]},
                "r1": {"model": "r"},
                "r2": {"model": "r"},
            },
            "groups": {"qwen-pool": ["q1", "q2", "q3"], "lone": ["r1", "r2"]},
            "routes": {"agent": ["qwen-pool", "small"], "plain": ["small"]},
            "aliases": {"qwen": "qwen-pool"},
            "classifier": {"intents": {"agent": {}}, "default": "agent"},
        }
    )


def test_a_chain_without_a_group_has_nothing_to_balance(grouped: Config) -> None:
    assert plan(grouped, parse_model(grouped, "plain"), chat()).groups == ()


def test_a_group_in_a_route_stands_for_its_members_then_the_chain_goes_on(grouped: Config) -> None:
    p = plan(grouped, parse_model(grouped, "agent"), chat())
    assert p.candidates == ("q1", "q2", "q3", "small")
    assert p.groups == (Slot("qwen-pool", 0, ("q1", "q2", "q3")),)


def test_members_that_cannot_take_the_request_leave_the_group(grouped: Config) -> None:
    p = plan(grouped, parse_model(grouped, "agent"), chat("what is this?", IMAGE))
    assert p.candidates == ("q1", "q2", "small")
    assert p.groups == (Slot("qwen-pool", 0, ("q1", "q2")),)
    assert [s for s, _ in p.skipped] == ["q3"]


def test_a_group_left_with_one_member_has_nothing_to_balance(grouped: Config) -> None:
    pair = grouped.model_copy(update={"groups": {"pair": ["q1", "q3"]}})
    p = plan(pair, Target("pair", "group", "pair"), chat("what is this?", IMAGE))
    assert (p.candidates, p.groups) == (("q1",), ())


def test_a_group_is_a_model_and_its_route_follows(grouped: Config) -> None:
    for name in ("qwen-pool", "qwen"):  # the group, and an alias of it
        target = parse_model(grouped, name)
        assert target == Target(name, "group", "qwen-pool")
        p = plan(grouped, target, chat())
        assert (p.intent, p.route, p.candidates) == ("agent", "agent", ("q1", "q2", "q3", "small"))
        assert p.groups == (Slot("qwen-pool", 0, ("q1", "q2", "q3")),)


def test_a_group_in_no_route_stands_alone(grouped: Config) -> None:
    p = plan(grouped, parse_model(grouped, "lone"), chat())
    assert (p.intent, p.route, p.candidates) == (None, None, ("r1", "r2"))
    assert p.groups == (Slot("lone", 0, ("r1", "r2")),)


def test_a_member_asked_by_name_goes_first_then_the_rest_of_its_group(grouped: Config) -> None:
    p = plan(grouped, parse_model(grouped, "q2"), chat())
    assert (p.intent, p.route) == ("agent", "agent")
    assert p.candidates == ("q2", "q1", "q3", "small")
    assert p.groups == (Slot("qwen-pool", 1, ("q1", "q3")),)


def test_model_ids_list_the_groups(grouped: Config) -> None:
    assert [n for n, kind in model_ids(grouped) if kind == "group"] == ["qwen-pool", "lone"]
    assert ("qwen", "alias") in model_ids(grouped)


def test_an_unknown_model_points_at_the_groups_too(grouped: Config) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        parse_model(grouped, "qwen-pol")
    assert "groups" in info.value.body()["error"]["message"]
