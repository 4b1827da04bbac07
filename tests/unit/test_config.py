"""servers.yaml validation: shipped files load; each mistake names its file and key path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelyard_config import ConfigError, load_config, parse_config
from modelyard_config.checks import warnings
from modelyard_config.classifier import IntentSpec
from modelyard_config.intents import default_intents, with_default_intents
from supervisor import paths

ROOT = paths.project_root()
SHIPPED = [ROOT / "servers.yaml", *sorted((ROOT / "profiles").glob("*.yaml"))]


def minimal() -> dict[str, Any]:
    """Two servers and a route for each shipped intent."""
    return {
        "supervisor": {"defaults": {"command": ["serve", "{model}", "--port", "{port}"]}},
        "servers": {"a": {"model": "m-a"}, "b": {"model": "m-b"}},
        "routes": {
            "agent": ["a", "b"],
            "tts": ["a"],
            "stt": ["a"],
            "avatar": ["b"],
            "multimodal": ["b"],
            "video": ["b"],
        },
        "aliases": {"gpt-4o": "agent"},
    }


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, "test.yaml")
    assert "test.yaml" in str(info.value)
    return info.value.problems


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_validates(path: Path) -> None:
    config = load_config(path)
    assert config.servers
    assert config.classifier.default in config.classifier.intents
    for intent in default_intents():
        assert config.intent_route(intent) in config.routes, intent


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(minimal())
    assert config.supervisor.port == 4100
    assert config.proxy.port == 4000
    assert config.supervisor.gpu_memory_limit == 0.80
    assert config.served_name("a") == "a"
    assert config.supervisor_url() == "http://127.0.0.1:4100"
    assert config.proxy.workers == 1


def test_unknown_key_names_its_path() -> None:
    data = minimal()
    data["servers"]["a"]["modle"] = "typo"
    assert problems_of(data) == [("servers.a.modle", "Extra inputs are not permitted")]


def test_unknown_top_level_section() -> None:
    data = minimal()
    data["sevrers"] = {}
    assert [p for p, _ in problems_of(data)] == ["sevrers"]


def test_route_naming_unknown_server_names_index() -> None:
    data = minimal()
    data["routes"]["agent"] = ["a", "phi-3"]
    assert problems_of(data) == [("routes.agent[1]", "unknown server 'phi-3'")]


@pytest.mark.parametrize(
    ("patch", "path"),
    [
        ({"supervisor": {"port": "abc"}}, "supervisor.port"),
        ({"supervisor": {"port": 70000}}, "supervisor.port"),
        ({"supervisor": {"gpu_memory_limit": 1.5}}, "supervisor.gpu_memory_limit"),
        ({"proxy": {"request_timeout": -1}}, "proxy.request_timeout"),
        ({"supervisor": {"port_range": [9000, 8000]}}, "supervisor.port_range"),
        ({"proxy": {"workers": 0}}, "proxy.workers"),
        ({"proxy": {"workers": 65}}, "proxy.workers"),
        ({"proxy": {"workers": "two"}}, "proxy.workers"),
    ],
)
def test_bad_values_name_their_path(patch: dict[str, Any], path: str) -> None:
    data = minimal()
    for section, values in patch.items():
        data[section] = {**data.get(section, {}), **values}
    assert path in [p for p, _ in problems_of(data)]


def test_bad_server_tier() -> None:
    data = minimal()
    data["servers"]["a"]["tier"] = "lukewarm"
    assert [p for p, _ in problems_of(data)] == ["servers.a.tier"]


def test_empty_route_is_an_error() -> None:
    data = minimal()
    data["routes"]["agent"] = []
    assert [p for p, _ in problems_of(data)] == ["routes.agent"]


def test_alias_to_nothing() -> None:
    data = minimal()
    data["aliases"]["gpt-5"] = "nowhere"
    assert problems_of(data) == [("aliases.gpt-5", "'nowhere' is neither a server nor a route")]


def test_names_must_not_mean_two_things() -> None:
    data = minimal()
    data["aliases"]["a"] = "agent"
    data["routes"]["b"] = ["a"]
    paths_ = [p for p, _ in problems_of(data)]
    assert "aliases.a" in paths_
    assert "routes.b" in paths_


def test_proxy_default_route_is_gone() -> None:
    data = minimal()
    data["proxy"] = {"default_route": "agent"}
    assert [p for p, _ in problems_of(data)] == ["proxy.default_route"]


def test_unknown_placeholder_in_command() -> None:
    data = minimal()
    data["servers"]["a"]["args"] = ["--tp", "{tensor_parallel}"]
    ((path, message),) = problems_of(data)
    assert path == "servers.a.args[1]"
    assert "{tensor_parallel}" in message


def test_server_without_any_command() -> None:
    data = minimal()
    del data["supervisor"]
    assert ("servers.a.command", "no command, and supervisor.defaults.command is not set") in (
        problems_of(data)
    )


def test_all_problems_reported_at_once() -> None:
    data = minimal()
    data["routes"]["agent"] = ["x", "y"]
    data["aliases"]["z"] = "w"
    assert len(problems_of(data)) == 3


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "servers.yaml"
    bad.write_text("servers: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "absent.yaml")


def test_non_mapping_top_level(tmp_path: Path) -> None:
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(["a", "b"]))
    with pytest.raises(ConfigError, match=str(path)):
        load_config(path)


# The classifier section: intents are data, merged over the shipped ones, cross-checked
# against routes, servers and aliases at load time.


def with_classifier(**classifier: Any) -> dict[str, Any]:
    data = minimal()
    data["classifier"] = classifier
    return data


def test_minimal_config_gets_the_shipped_intents() -> None:
    settings = parse_config(minimal()).classifier
    assert list(settings.intents) == ["agent", "tts", "stt", "avatar", "multimodal", "video"]
    assert (settings.default, settings.threshold, settings.embedder, settings.triage) == (
        "agent",
        None,  # per stage: 0.9 for the learned stage's probabilities, 0.3 for cue margins
        "none",
        None,
    )
    assert settings.learned == "builtin"
    tts, stt = settings.intents["tts"], settings.intents["stt"]
    assert (tts.outputs, tts.endpoints) == (["audio"], ["/v1/audio/speech"])
    assert (stt.requires, stt.accepts) == (["audio"], ["text", "audio"])
    assert "aloud" in tts.cues


def test_every_shipped_intent_is_valid_on_its_own() -> None:
    for name, spec in default_intents().items():
        intent = IntentSpec.model_validate(spec)
        assert intent.description, name
        # the embedding stage needs examples for every intent a chat may be; one reached only
        # through its endpoints (embed, rerank) needs none
        chat_intent = bool({"text", "audio", "video"} & set(intent.outputs))
        assert intent.examples or not chat_intent, name
        assert intent.endpoints or chat_intent, name


def test_intent_route_defaults_to_its_name() -> None:
    assert IntentSpec().route_name("legal") == "legal"
    assert IntentSpec(route="agent").route_name("legal") == "agent"
    assert (IntentSpec().accepts, IntentSpec().outputs) == (["text"], ["text"])


def test_user_intent_is_added_after_the_shipped_ones() -> None:
    data = with_classifier(intents={"legal": {"route": "agent", "cues": ["contract"]}})
    intents = parse_config(data).classifier.intents
    assert list(intents)[-1] == "legal"
    assert len(intents) == 7
    assert intents["legal"].cues == ["contract"]


def test_user_intent_replaces_a_shipped_one_by_name() -> None:
    data = with_classifier(intents={"tts": {"cues": ["aloud"]}})
    intents = parse_config(data).classifier.intents
    assert list(intents).index("tts") == 1
    assert intents["tts"].cues == ["aloud"]
    assert intents["tts"].endpoints == []


def test_intent_with_an_unknown_route_fails_at_load() -> None:
    data = with_classifier(intents={"legal": {"cues": ["contract"]}})
    assert problems_of(data) == [
        (
            "classifier.intents.legal.route",
            "unknown route 'legal': add routes.legal or set this intent's route",
        )
    ]
    data = with_classifier(intents={"legal": {"route": "law"}})
    ((path, message),) = problems_of(data)
    assert path == "classifier.intents.legal.route"
    assert "'law'" in message


def test_shipped_intent_without_its_route_is_left_out() -> None:
    # a text-only deployment needs no video route; a declared intent does (test above)
    data = minimal()
    del data["routes"]["video"]
    assert "video" not in parse_config(data).classifier.intents


def test_declaring_a_shipped_intent_makes_its_route_required() -> None:
    data = with_classifier(intents={"video": {"accepts": ["text", "video"]}})
    del data["routes"]["video"]
    assert [p for p, _ in problems_of(data)] == ["classifier.intents.video.route"]


def test_null_removes_a_shipped_intent() -> None:
    data = with_classifier(intents={"avatar": None})
    del data["routes"]["avatar"]
    intents = parse_config(data).classifier.intents
    assert "avatar" not in intents
    assert list(intents) == ["agent", "tts", "stt", "multimodal", "video"]


def test_without_default_intents_the_config_must_give_them() -> None:
    data = with_classifier(default_intents=False)
    assert problems_of(data) == [("classifier.default", "unknown intent 'agent'")]
    data = with_classifier(default_intents=False, intents={"agent": {"cues": ["code"]}})
    data["routes"] = {"agent": ["a"]}
    intents = parse_config(data).classifier.intents
    assert list(intents) == ["agent"]
    assert intents["agent"].cues == ["code"]


def test_unknown_default_intent() -> None:
    assert problems_of(with_classifier(default="chat")) == [
        ("classifier.default", "unknown intent 'chat'")
    ]


def test_default_may_be_a_user_intent() -> None:
    data = with_classifier(default="legal", intents={"legal": {"route": "agent"}})
    assert parse_config(data).classifier.default == "legal"


def test_triage_must_name_a_server() -> None:
    assert problems_of(with_classifier(triage="phi-3")) == [
        ("classifier.triage", "unknown server 'phi-3'")
    ]
    assert parse_config(with_classifier(triage="b")).classifier.triage == "b"


def test_triage_naming_a_route_is_not_a_server() -> None:
    assert [p for p, _ in problems_of(with_classifier(triage="agent"))] == ["classifier.triage"]


def test_intent_named_like_a_server_clashes() -> None:
    data = with_classifier(intents={"a": {"route": "agent"}})
    assert problems_of(data) == [("classifier.intents.a", "name is already a server")]


def test_intent_named_like_an_alias_clashes() -> None:
    data = with_classifier(intents={"gpt-4o": {"route": "agent"}})
    assert problems_of(data) == [("classifier.intents.gpt-4o", "name is already an alias")]


def test_intent_named_like_another_route_clashes() -> None:
    # `model: fast` would mean the intent (and the agent chain) while /v1/models lists
    # `fast` as the route with its own chain.
    data = with_classifier(intents={"fast": {"route": "agent"}})
    data["routes"]["fast"] = ["b"]
    assert [p for p, _ in problems_of(data)] == ["classifier.intents.fast"]


def test_sentence_transformers_needs_a_model_path() -> None:
    assert problems_of(with_classifier(embedder="sentence-transformers")) == [
        ("classifier.embedder_model", "sentence-transformers needs a local model path")
    ]
    data = with_classifier(embedder="sentence-transformers", embedder_model="/models/e5")
    assert parse_config(data).classifier.embedder_model == "/models/e5"


@pytest.mark.parametrize("cue", [3, "", None, ["aloud"]])
def test_malformed_cue_names_its_index(cue: Any) -> None:
    data = with_classifier(intents={"tts": {"cues": ["aloud", "read out*", cue]}})
    assert "classifier.intents.tts.cues[2]" in [p for p, _ in problems_of(data)]


@pytest.mark.parametrize(
    ("classifier", "path"),
    [
        ({"threshold": 1.5}, "classifier.threshold"),
        ({"embedder": "bert"}, "classifier.embedder"),
        ({"triage_timeout": 0}, "classifier.triage_timeout"),
        ({"treshold": 0.5}, "classifier.treshold"),
        ({"intents": {"tts": {"voice": "alloy"}}}, "classifier.intents.tts.voice"),
        (
            {"intents": {"x": {"route": "agent", "accepts": ["pdf"]}}},
            "classifier.intents.x.accepts[0]",
        ),
        (
            {"intents": {"x": {"route": "agent", "endpoints": ["/v1/x"]}}},
            "classifier.intents.x.endpoints[0]",
        ),
        ({"intents": ["agent"]}, "classifier.intents"),
    ],
)
def test_bad_classifier_values_name_their_path(classifier: dict[str, Any], path: str) -> None:
    assert path in [p for p, _ in problems_of(with_classifier(**classifier))]


def test_intent_name_must_be_a_name() -> None:
    paths_ = [p for p, _ in problems_of(with_classifier(intents={"bad name": {"route": "agent"}}))]
    assert [p for p in paths_ if p.startswith("classifier.intents.bad name")]


def test_malformed_classifier_section_is_reported_not_merged() -> None:
    data = minimal()
    data["classifier"] = "auto"
    assert [p for p, _ in problems_of(data)] == ["classifier"]


def test_merging_does_not_change_the_callers_data() -> None:
    data = with_classifier(intents={"avatar": None})
    del data["routes"]["avatar"]
    before = copy.deepcopy(data)
    parse_config(data)
    assert data == before
    assert with_default_intents(data)["classifier"]["intents"]["agent"]["accepts"] == ["text"]


def test_retry_policy_precedence_server_then_route_then_proxy() -> None:
    data = minimal()
    data["proxy"] = {"retry": {"attempts": 2}, "route_retry": {"agent": {"attempts": 3}}}
    data["servers"]["b"]["retry"] = {"attempts": 5}
    config = parse_config(data)
    assert config.retry_policy("agent", "b").attempts == 5
    assert config.retry_policy("agent", "a").attempts == 3
    assert config.retry_policy("tts", "a").attempts == 2
    assert config.retry_policy(None, "a").attempts == 2


def test_route_retry_for_an_unknown_route_fails_at_load() -> None:
    data = minimal()
    data["proxy"] = {"route_retry": {"chat": {"attempts": 3}}}
    assert problems_of(data) == [("proxy.route_retry.chat", "unknown route 'chat'")]


def test_retry_and_cooldown_values_are_checked() -> None:
    data = minimal()
    data["proxy"] = {"retry": {"attempts": 0, "retry_on": ["4xx"]}, "cooldown": {"window": 0}}
    assert {p for p, _ in problems_of(data)} == {
        "proxy.retry.attempts",
        "proxy.retry.retry_on[0]",
        "proxy.cooldown.window",
    }


def test_a_server_name_with_a_slash_is_refused() -> None:
    """A server's name is a path segment of the admin API (/servers/{name}/ensure): `a/b`
    would address a route that does not exist."""
    data = minimal()
    data["servers"]["a/b"] = {"model": "m"}
    [(path, message)] = problems_of(data)
    assert path.startswith("servers.a/b") and "pattern" in message


# --- groups: balancing among equals (issue 16) ------------------------------------------


def with_group(members: list[str] | None = None, **routes: list[str]) -> dict[str, Any]:
    data = minimal()
    data["servers"]["c"] = {"model": "m-a"}
    data["groups"] = {"pool": members if members is not None else ["a", "c"]}
    data["routes"].update(routes)
    return data


def test_a_route_may_name_a_group_where_it_names_a_server() -> None:
    config = parse_config(with_group(agent=["pool", "b"]))
    assert config.groups == {"pool": ["a", "c"]}
    assert config.members("pool") == ["a", "c"] and config.members("b") == ["b"]
    assert config.route_servers("agent") == ["a", "c", "b"]


def test_an_alias_may_name_a_group() -> None:
    data = with_group()
    data["aliases"]["qwen"] = "pool"
    assert parse_config(data).aliases["qwen"] == "pool"


def test_a_group_has_at_least_two_members() -> None:
    assert [p for p, _ in problems_of(with_group(["a"]))] == ["groups.pool"]


def test_a_groups_members_are_servers_each_once() -> None:
    data = with_group(["a", "nowhere", "a"])
    data["groups"]["outer"] = ["pool", "b"]
    assert problems_of(data) == [
        ("groups.pool[1]", "unknown server 'nowhere'"),
        ("groups.pool[2]", "'a' is already a member"),
        ("groups.outer[0]", "'pool' is a group: a group's members are servers"),
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("a", "a server"), ("tts", "a route"), ("gpt-4o", "an alias"), ("chat", "an intent")],
)
def test_a_group_name_means_nothing_else(name: str, kind: str) -> None:
    data = with_group()
    data["groups"] = {name: ["b", "c"]}
    data["classifier"] = {"intents": {"chat": {"route": "agent"}}}
    assert (f"groups.{name}", f"name is already {kind}") in problems_of(data)


def test_a_route_naming_an_unknown_group_names_its_index() -> None:
    assert problems_of(with_group(agent=["b", "poool"])) == [
        ("routes.agent[1]", "unknown server 'poool'")
    ]


def test_a_server_may_not_stand_twice_in_a_chain_through_a_group() -> None:
    assert problems_of(with_group(agent=["pool", "a"])) == [
        ("routes.agent[1]", "'a' is already in this chain (group 'pool' holds it)")
    ]
    assert problems_of(with_group(agent=["c", "pool"])) == [
        ("routes.agent[1]", "'c' is already in this chain (group 'pool' holds it)")
    ]


def test_a_group_member_that_cannot_serve_its_routes_intent_is_warned_about() -> None:
    data = with_group(embed=["pool"])
    data["servers"]["c"]["capabilities"] = ["embedding"]
    found = warnings(parse_config(data))
    assert [(p, m.split(" lacks")[0]) for p, m in found] == [("routes.embed", "a")]


def test_a_variant_must_exist_answer_to_the_full_name_and_belong_to_one_model() -> None:
    data = minimal()
    data["servers"]["a"]["variants"] = ["b", "ghost", "a"]
    data["servers"]["c"] = {"model": "m-c", "variants": ["b"]}
    found = problems_of(data)

    def said(path: str) -> str:
        return " | ".join(message for where, message in found if where == path)

    assert "serves 'b', not 'a'" in said("servers.a.variants[0]")
    assert "set its served_name: a" in said("servers.a.variants[0]")
    assert said("servers.a.variants[1]") == "unknown server 'ghost'"
    assert said("servers.a.variants[2]") == "a server is not a variant of itself"
    assert "already a variant of 'a'" in said("servers.c.variants[0]")
    data = minimal()
    data["servers"]["a"]["variants"] = ["b"]
    data["servers"]["b"]["served_name"] = "a"
    assert parse_config(data).servers["a"].variants == ["b"]
