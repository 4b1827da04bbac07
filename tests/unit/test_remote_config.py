"""What a config with remote servers needs (issue 17): LiteLLM installed (and its `mcp` extra
for the Responses API), said per server by `extra_problems`, which `modelyard check` prints and
the proxy refuses to start with; and capabilities a remote server cannot serve, refused."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import ConfigError, parse_config
from proxy.app import create_app
from proxy.remote import INSTALL, RESPONSES_NEED_MCP, extra_problems


def config(**servers: dict[str, Any]) -> dict[str, Any]:
    return {
        "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
        "servers": {"local": {"model": "m"}, **servers},
        "routes": {"agent": ["local", *servers]},
    }


HOSTED = {"remote": {"model": "openai/gpt-4o-mini", "api_key_env": "OPENAI_API_KEY"}}


def lacking(*missing: str) -> Any:
    return lambda name: None if name in missing else object()


def test_without_litellm_each_remote_server_names_the_extra() -> None:
    cfg = parse_config(config(hosted=HOSTED, other={"remote": {"model": "anthropic/claude"}}))
    assert extra_problems(cfg, lacking("litellm")) == [
        ("servers.hosted.remote", INSTALL),
        ("servers.other.remote", INSTALL),
    ]
    assert "pip install 'modelyard[litellm]'" in INSTALL


def test_with_litellm_or_without_remote_servers_nothing_is_missing() -> None:
    assert extra_problems(parse_config(config(hosted=HOSTED)), lacking()) == []
    assert extra_problems(parse_config(config()), lacking("litellm", "mcp")) == []


def test_the_responses_api_needs_litellms_mcp_extra() -> None:
    cfg = parse_config(config(hosted={**HOSTED, "capabilities": ["text", "responses"]}))
    assert extra_problems(cfg, lacking("mcp")) == [
        ("servers.hosted.capabilities[1]", RESPONSES_NEED_MCP)
    ]


def test_the_proxy_refuses_to_start_without_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(config(hosted=HOSTED))
    with monkeypatch.context() as patched, pytest.raises(ConfigError) as refused:
        patched.setattr("importlib.util.find_spec", lacking("litellm"))
        create_app(cfg)
    assert refused.value.problems == [("servers.hosted.remote", INSTALL)]


def test_a_capability_no_litellm_call_serves_is_refused_on_a_remote_server() -> None:
    capabilities = ["text", "embedding", "rerank", "speech", "transcription", "messages"]
    with pytest.raises(ConfigError) as refused:
        parse_config(config(hosted={**HOSTED, "capabilities": capabilities}))
    assert [path for path, _ in refused.value.problems] == ["servers.hosted.capabilities[2]"]
    assert "/v1/rerank" in refused.value.problems[0][1]
    # a local server may declare it
    parse_config(config(reranker={"model": "r", "capabilities": ["rerank"]}))
