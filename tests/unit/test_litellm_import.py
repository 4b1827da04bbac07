"""`modelyard import-litellm`'s converter (issue 17, config import): LiteLLM proxy configs of
several shapes (tests/data/litellm/) each become a servers.yaml that loads and passes every
check, with every note it makes asserted by its key path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from modelyard.litellm_import import (
    VLLM_COMMAND,
    Imported,
    LiteLLMConfigError,
    convert,
    render,
)
from modelyard_config import Config, parse_config
from modelyard_config.checks import cross_reference_problems
from supervisor import paths
from supervisor.command import LaunchFacts
from supervisor.command import render as render_launch

ROOT = paths.project_root()
DATA = ROOT / "tests" / "data" / "litellm"
SHAPES = sorted(p.name for p in DATA.glob("*.yaml"))


class Has:
    """Equal to any message that holds `part`: a dict of notes is compared whole, each
    message by the words that matter."""

    def __init__(self, part: str) -> None:
        self.part = part

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and self.part in other

    def __repr__(self) -> str:
        return f"Has({self.part!r})"


def litellm(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def valid(imported: Imported) -> Config:
    """The result loads as modelyard's Config, and the cross-checks find nothing."""
    config = parse_config(copy.deepcopy(imported.config), "imported")
    assert cross_reference_problems(config) == []
    return config


def dropped(imported: Imported) -> dict[str, str]:
    return {note.path: note.message for note in imported.of_kind("dropped")}


def review(imported: Imported) -> dict[str, str]:
    return {note.path: note.message for note in imported.of_kind("review")}


def remote(imported: Imported, server: str) -> dict[str, Any]:
    spec: dict[str, Any] = imported.config["servers"][server]["remote"]
    return spec


def test_the_shapes_are_all_here() -> None:
    assert SHAPES == [
        "balanced.yaml",
        "fallbacks.yaml",
        "hosted.yaml",
        "local.yaml",
        "secrets.yaml",
        "unservable.yaml",
    ]


@pytest.mark.parametrize("remote_only", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_loads_passes_the_checks_and_lists_its_notes(
    shape: str, remote_only: bool
) -> None:
    imported = convert(litellm(shape), remote_only=remote_only)
    config = valid(imported)
    assert "agent" in config.routes, "`model: auto` has the route it needs"
    text = render(imported, f"tests/data/litellm/{shape}")
    assert yaml.safe_load(text) == imported.config, "the header is comments only"
    assert text.startswith("# Imported by `modelyard import-litellm` from LiteLLM's tests/data/")
    header = [line for line in text.splitlines() if line.startswith("#")]
    for note in imported.notes:
        assert f"#   {note.path}: {note.message}" in header
    if remote_only:
        assert all(spec.remote for spec in config.servers.values())


def test_hosted_models_become_remote_servers_with_keys_named_by_variable() -> None:
    imported = convert(litellm("hosted.yaml"))
    config = valid(imported)
    servers = imported.config["servers"]
    assert "supervisor" not in imported.config, "nothing local to run"
    assert list(servers) == [
        "gpt-4o-mini",
        "claude-haiku",
        "azure-gpt-4o",
        "text-embedding-3-small",
        "whisper",
        "tts",
        "o1-pro",
    ]
    assert remote(imported, "gpt-4o-mini") == {
        "model": "openai/gpt-4o-mini",
        "api_key_env": "OPENAI_API_KEY",
    }
    assert remote(imported, "azure-gpt-4o") == {
        "model": "azure/gpt-4o-prod",
        "api_base": "https://example-eu.openai.azure.com/",
        "api_version": "2024-10-21",
        "api_key_env": "AZURE_API_KEY",
        "params": {"organization": "research"},
    }
    assert {name: spec.capabilities for name, spec in config.servers.items()} == {
        "gpt-4o-mini": ["text", "image", "tools"],
        "claude-haiku": ["text"],
        "azure-gpt-4o": ["text"],
        "text-embedding-3-small": ["embedding"],
        "whisper": ["transcription"],
        "tts": ["speech"],
        "o1-pro": ["text", "responses"],
    }
    retry = config.servers["claude-haiku"].retry
    assert retry is not None
    assert (retry.attempts, retry.first_byte_timeout) == (3, 45.0), "max_retries 2, timeout 45"
    assert config.servers["claude-haiku"].model == "anthropic/claude-3-5-haiku-latest"
    assert dropped(imported) == {
        "model_list[6]": "mode rerank: modelyard calls no LiteLLM function for it on a remote "
        "server"
    }
    assert config.routes == {"agent": ["gpt-4o-mini"]}
    assert review(imported) == {"routes.agent": Has("first chat model")}


def test_fallbacks_become_the_chains_litellm_would_walk() -> None:
    imported = convert(litellm("fallbacks.yaml"))
    config = valid(imported)
    # qwen-local fails -> gpt-4o -> (gpt-4o's own) claude -> (claude's: the default) mistral
    # -> back in gpt-4o's list: qwen-local, tried -> back in qwen-local's: gemini
    assert config.routes == {
        "qwen-local": ["qwen-local-1", "gpt-4o-1", "claude-1", "mistral", "gemini"],
        "gpt-4o": ["gpt-4o-1", "claude-1", "mistral", "qwen-local-1", "gemini"],
        "claude": ["claude-1", "mistral"],
        "agent": ["qwen-local-1", "gpt-4o-1", "claude-1", "mistral", "gemini"],
    }
    # a route takes the client's name, so its server takes a numbered one; gemini's own
    # (emptied) list and mistral's loop back to itself leave them routeless
    assert list(config.servers) == ["qwen-local-1", "gpt-4o-1", "claude-1", "gemini", "mistral"]
    assert imported.config["proxy"] == {
        "retry": {"attempts": 3},
        "request_timeout": 120.0,
        "cooldown": {"failures": 4, "window": 60.0, "period": 30.0},
    }
    assert dropped(imported) == {
        "model_list[0].litellm_params.api_base": Has("modelyard runs this model"),
        "router_settings.fallbacks[2].gemini[0]": "no model_name 'no-such-model' in model_list",
        "litellm_settings.fallbacks": "router_settings.fallbacks wins, in LiteLLM too",
        "router_settings.routing_strategy": Has("no counterpart"),
        "litellm_settings.context_window_fallbacks": Has("context-window"),
        "litellm_settings.content_policy_fallbacks": Has("content-policy"),
    }
    assert set(review(imported)) == {"servers.qwen-local-1.gpu_memory_fraction", "routes.agent"}


def test_max_fallbacks_stops_following_fallbacks_of_fallbacks() -> None:
    data: dict[str, Any] = {
        "model_list": [
            {"model_name": n, "litellm_params": {"model": f"openai/{n}"}} for n in "abcd"
        ],
        "router_settings": {
            "fallbacks": [{"a": ["b", "c"]}, {"b": ["d"]}],
            "max_fallbacks": 1,
        },
    }
    config = valid(convert(data))
    # a's own list is tried whole; b's own (d) lies past one hop
    assert config.routes["a"] == ["a-1", "b-1", "c"]
    data["router_settings"]["max_fallbacks"] = 5
    assert valid(convert(data)).routes["a"] == ["a-1", "b-1", "d", "c"]


def test_without_fallbacks_no_route_but_agent() -> None:
    data = {"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/m"}}]}
    imported = convert(data)
    assert imported.config["routes"] == {"agent": ["m"]}
    assert imported.config["servers"] == {
        "m": {"remote": {"model": "openai/m"}, "capabilities": ["text"]}
    }


def test_models_modelyard_can_run_become_local_vllm_servers() -> None:
    imported = convert(litellm("local.yaml"))
    config = valid(imported)
    assert imported.config["supervisor"] == {"defaults": {"command": VLLM_COMMAND}}
    local = {name: spec.model for name, spec in config.servers.items() if not spec.remote}
    assert local == {
        "Qwen-Qwen2.5-7B-Instruct": "Qwen/Qwen2.5-7B-Instruct",
        "bge-m3": "BAAI/bge-m3",
        "llama-hf": "meta-llama/Llama-3.1-8B-Instruct",  # behind HF's provider `together`
    }
    assert config.servers["bge-m3"].capabilities == ["embedding"]
    assert config.servers["Qwen-Qwen2.5-7B-Instruct"].capabilities == ["text", "tools"]
    assert all(spec.gpu_memory_fraction is None for spec in config.servers.values())
    assert remote(imported, "my-served-name") == {
        "model": "hosted_vllm/my-served-name",
        "api_base": "http://other-box:8000/v1",
    }
    assert remote(imported, "llama3-ollama")["model"] == "ollama/llama3"
    assert config.aliases == {"Qwen/Qwen2.5-7B-Instruct": "Qwen-Qwen2.5-7B-Instruct"}
    facts = LaunchFacts(host="127.0.0.1", port=8123, engine_python="/e/bin/python", models_dir="/m")
    argv = render_launch(config, "Qwen-Qwen2.5-7B-Instruct", facts).argv
    assert argv[:3] == ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct"], "the supervisor can run it"
    runs_itself = Has("modelyard runs this model itself")
    assert dropped(imported) == {
        "model_list[0].litellm_params.api_base": runs_itself,
        "model_list[0].litellm_params.api_key": runs_itself,
        "model_list[0].litellm_params.temperature": Has("a LiteLLM call parameter"),
        "model_list[2].litellm_params.api_key": runs_itself,
    }
    budget = Has("no GPU budget is known")
    assert review(imported) == {
        "servers.Qwen-Qwen2.5-7B-Instruct.gpu_memory_fraction": budget,
        "servers.bge-m3.gpu_memory_fraction": budget,
        "servers.llama-hf.gpu_memory_fraction": budget,
        "servers.my-served-name.remote": Has("names no Hugging Face repo"),
        "routes.agent": Has("'Qwen/Qwen2.5-7B-Instruct'"),
    }


def test_the_vllm_command_is_the_gpu_boxs() -> None:
    shipped = yaml.safe_load((ROOT / "servers.yaml").read_text(encoding="utf-8"))
    assert shipped["supervisor"]["defaults"]["command"] == VLLM_COMMAND


def test_remote_only_keeps_a_vllm_server_remote() -> None:
    imported = convert(litellm("local.yaml"), remote_only=True)
    valid(imported)
    assert "supervisor" not in imported.config
    assert remote(imported, "Qwen-Qwen2.5-7B-Instruct") == {
        "model": "hosted_vllm/Qwen/Qwen2.5-7B-Instruct",
        "api_base": "http://gpu-box:8000/v1",
        "params": {"temperature": 0.3},
    }
    assert dropped(imported) == {
        "model_list[0].litellm_params.api_key": Has("a literal key is never written")
    }


def test_load_balanced_deployments_become_a_group_under_the_clients_name() -> None:
    imported = convert(litellm("balanced.yaml"))
    config = valid(imported)
    assert config.groups == {
        "gpt-4o-group": ["gpt-4o-1", "gpt-4o-2", "gpt-4o-3"],  # the route takes `gpt-4o`
        "llama/70b": ["llama-70b-1", "llama-70b-2"],
    }
    assert config.routes["gpt-4o"] == ["gpt-4o-group", "claude"]
    assert config.route_servers("gpt-4o") == ["gpt-4o-1", "gpt-4o-2", "gpt-4o-3", "claude"]
    assert config.aliases == {"gpt-4": "gpt-4o", "llama": "llama/70b"}
    assert dropped(imported) == {
        "model_list[0].litellm_params.rpm": Has("rate limit"),
        "model_list[0].litellm_params.weight": Has("weighted choice"),
        "model_list[1].litellm_params.tpm": Has("rate limit"),
        "router_settings.model_group_alias.llama.hidden": Has("no such setting"),
        "router_settings.model_group_alias.claude": Has("not a free name"),
        "router_settings.routing_strategy": Has("no counterpart"),
    }


def test_no_secret_reaches_the_output_or_the_notes() -> None:
    imported = convert(litellm("secrets.yaml"))
    valid(imported)
    text = render(imported, "secrets.yaml")
    assert "NEVERWRITTEN" not in text
    assert all("NEVERWRITTEN" not in n.message for n in imported.notes)
    assert remote(imported, "gpt-4o") == {
        "model": "openai/gpt-4o",
        "params": {"extra_headers": {"X-Team": "research"}},
    }
    assert remote(imported, "azure-gpt") == {
        "model": "azure/gpt-4o",
        "api_key_env": "AZURE_API_KEY",
    }
    not_resolved = Has("is not resolved at import")
    credential = Has("credential")
    assert dropped(imported) == {
        "model_list[0].litellm_params.api_key": "a literal key is never written to servers.yaml: "
        "set it in an env var and name it in servers.gpt-4o.remote.api_key_env",
        "model_list[0].litellm_params.extra_headers.Authorization": credential,
        "model_list[1].litellm_params.aws_access_key_id": credential,
        "model_list[1].litellm_params.aws_secret_access_key": credential,
        "model_list[1].litellm_params.aws_region_name": not_resolved,
        "model_list[2].litellm_params.api_base": not_resolved,
        "model_list[2].litellm_params.api_version": not_resolved,
        "model_list[2].litellm_params.timeout": not_resolved,
        "litellm_settings.success_callback": Has("no counterpart"),
        "litellm_settings.cache": Has("no counterpart"),
        "general_settings.master_key": Has("proxy server setting"),
        "general_settings.database_url": Has("proxy server setting"),
        "environment_variables.REDIS_PASSWORD": Has("set it in the environment"),
    }


def test_resolve_env_writes_references_but_never_a_credential() -> None:
    environ = {
        "AZURE_API_BASE": "https://resolved.example.com/",
        "AZURE_API_VERSION": "2024-10-21",
        "AWS_REGION_NAME": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "AKIANEVERWRITTEN",
    }  # AZURE_TIMEOUT is unset
    imported = convert(litellm("secrets.yaml"), environ=environ)
    config = valid(imported)
    assert remote(imported, "azure-gpt") == {
        "model": "azure/gpt-4o",
        "api_base": "https://resolved.example.com/",
        "api_version": "2024-10-21",
        "api_key_env": "AZURE_API_KEY",
    }
    assert remote(imported, "bedrock-claude")["params"] == {"aws_region_name": "eu-west-1"}
    assert config.servers["azure-gpt"].retry is None
    assert "NEVERWRITTEN" not in render(imported, "secrets.yaml")
    notes = dropped(imported)
    assert notes["model_list[2].litellm_params.timeout"] == (
        "os.environ/AZURE_TIMEOUT: AZURE_TIMEOUT is not set in this environment; "
        "set the server's retry.first_byte_timeout"
    )
    assert "credential" in notes["model_list[1].litellm_params.aws_access_key_id"]
    assert "model_list[2].litellm_params.api_base" not in notes


def test_what_modelyard_cannot_serve_is_listed_not_dropped() -> None:
    imported = convert(litellm("unservable.yaml"))
    config = valid(imported)
    assert list(config.servers) == ["gpt-4o-mini", "mystery"]
    assert config.servers["mystery"].capabilities == ["text"]
    wildcard = Has("a wildcard deployment")
    assert dropped(imported) == {
        "model_list[0]": wildcard,
        "model_list[1]": wildcard,
        "model_list[2]": "mode image_generation: modelyard serves no such endpoint",
        "model_list[4].model_info.mode": "unknown mode 'telepathy': served as text",
        "router_settings.fallbacks[0].gpt-4o-mini[0]": "'dall-e-3' is not carried over (see "
        "model_list[2])",
        "include": Has("other config files are not read"),
    }


def test_names_clients_send_keep_working() -> None:
    entries = [
        ("GPT 4o (EU)", "openai/gpt-4o"),
        ("a/b", "openai/x"),
        ("a-b", "openai/y"),
        ("agent", "openai/z"),
    ]
    data = {
        "model_list": [
            {"model_name": name, "litellm_params": {"model": model}} for name, model in entries
        ]
    }
    imported = convert(data)
    config = valid(imported)
    assert list(config.servers) == ["GPT-4o-EU", "a-b-1", "a-b", "agent-1"]
    assert config.aliases == {"a/b": "a-b-1"}
    assert config.routes == {"agent": ["agent-1"]}, "the client's own agent is `model: auto`"
    assert review(imported) == {
        "model_list[0].model_name": "'GPT 4o (EU)' is not a name modelyard routes (letters, "
        "digits and ._:/-, or it is taken): clients send 'GPT-4o-EU' instead"
    }


@pytest.mark.parametrize(
    ("data", "path"),
    [
        (["model_list"], ""),
        ({"litellm_settings": {}}, "model_list"),
        ({"model_list": []}, "model_list"),
        ({"model_list": ["gpt-4o"]}, "model_list[0]"),
        (
            {"model_list": [{"model_name": "m", "litellm_params": {}}]},
            "model_list[0].litellm_params.model",
        ),
        ({"model_list": [{"model_name": "m"}]}, "model_list[0].litellm_params"),
        ({"model_list": [{"litellm_params": {"model": "openai/m"}}]}, "model_list[0].model_name"),
        (
            {
                "model_list": [{"model_name": "m", "litellm_params": {"model": "openai/m"}}],
                "router_settings": {"fallbacks": [{"m": ["a"], "n": ["b"]}]},
            },
            "router_settings.fallbacks[0]",
        ),
        (
            {
                "model_list": [{"model_name": "m", "litellm_params": {"model": "openai/m"}}],
                "litellm_settings": {"fallbacks": {"m": ["a"]}},
            },
            "litellm_settings.fallbacks",
        ),
        ({"model_list": [{"model_name": "*", "litellm_params": {"model": "*"}}]}, "model_list"),
    ],
)
def test_unreadable_input_is_an_error_naming_its_key_path(data: Any, path: str) -> None:
    with pytest.raises(LiteLLMConfigError) as info:
        convert(data)
    assert path in [where for where, _ in info.value.problems]


def test_every_problem_is_reported_at_once() -> None:
    data = {"model_list": [{"model_name": "m"}, {"litellm_params": {"model": "x"}}]}
    with pytest.raises(LiteLLMConfigError) as info:
        convert(data)
    assert [where for where, _ in info.value.problems] == [
        "model_list[0].litellm_params",
        "model_list[1].model_name",
    ]
