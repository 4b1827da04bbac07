"""The arguments of a remote server's LiteLLM call (issue 17): the client's body, within the
server's max_tokens ceiling as for a local server, with the server's own settings over it and
nothing of LiteLLM's own settings taken from a client."""

from __future__ import annotations

from modelyard_config.endpoints import CHAT, EMBEDDINGS, MESSAGES, TRANSCRIPTIONS
from modelyard_config.servers import RemoteSpec
from proxy.bodies import FormBody, JsonBody, Upload
from proxy.remote_calls import arguments

SPEC = RemoteSpec(model="openai/gpt-4o-mini", api_base="http://provider.test/v1")
# a few of LiteLLM's own settings (litellm.types.utils.all_litellm_params in the proxy)
RESERVED = frozenset({"api_base", "api_key", "mock_response", "metadata", "custom_llm_provider"})


def args(body: JsonBody | FormBody, endpoint: str = CHAT, spec: RemoteSpec = SPEC, **kw: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {
        "api_key": "sk-server",
        "max_tokens": None,
        "timeout": 600.0,
        "request_id": "req-1",
        "reserved": RESERVED,
    }
    return arguments(endpoint, body, spec, **{**settings, **kw})  # type: ignore[arg-type]


def chat(**extra: object) -> JsonBody:
    return JsonBody.of(
        CHAT, {"model": "agent", "messages": [{"role": "user", "content": "hi"}], **extra}
    )


def test_the_body_becomes_the_calls_arguments_with_the_servers_model_and_settings() -> None:
    found = args(chat(temperature=0.2, stream=True, tools=[{"type": "function"}]))
    assert found["model"] == "openai/gpt-4o-mini"
    assert found["messages"] == [{"role": "user", "content": "hi"}]
    assert (found["temperature"], found["stream"]) == (0.2, True)
    assert found["tools"] == [{"type": "function"}]
    assert found["api_base"] == "http://provider.test/v1" and found["api_key"] == "sk-server"
    assert (found["timeout"], found["num_retries"], found["max_retries"]) == (600.0, 0, 0)
    assert found["extra_headers"] == {"x-request-id": "req-1"}
    assert found["_skip_mcp_handler"] is True


def test_the_servers_max_tokens_ceiling_applies_as_for_a_local_server() -> None:
    assert args(chat(max_tokens=5000), max_tokens=256)["max_tokens"] == 256
    assert args(chat(max_tokens=10), max_tokens=256)["max_tokens"] == 10
    assert args(chat(), max_tokens=256)["max_tokens"] == 256  # unbounded: the ceiling
    assert "max_tokens" not in args(chat())
    messages = JsonBody.of(MESSAGES, {"model": "x", "messages": [], "max_tokens": 900})
    assert args(messages, MESSAGES, max_tokens=100)["max_tokens"] == 100


def test_a_client_cannot_set_litellms_own_settings() -> None:
    """A client that could set api_base would have modelyard's key sent to its server."""
    found = args(
        chat(
            api_base="http://attacker.test",
            api_key="sk-attacker",
            mock_response="fake",
            extra_headers={"authorization": "x"},
            extra_body={"a": 1},
            base_url="http://attacker.test",
        )
    )
    assert found["api_base"] == "http://provider.test/v1" and found["api_key"] == "sk-server"
    assert "mock_response" not in found and "extra_body" not in found and "base_url" not in found
    assert found["extra_headers"] == {"x-request-id": "req-1"}


def test_the_servers_params_pass_on_but_never_turn_retries_on() -> None:
    spec = RemoteSpec(
        model="azure/gpt",
        api_version="2024-10-21",
        params={"organization": "org-1", "num_retries": 3, "extra_headers": {"x-team": "a"}},
    )
    found = args(chat(), spec=spec, api_key=None)
    assert found["organization"] == "org-1" and found["api_version"] == "2024-10-21"
    assert found["num_retries"] == 0
    assert found["extra_headers"] == {"x-request-id": "req-1", "x-team": "a"}
    assert "api_key" not in found and "api_base" not in found  # LiteLLM's own lookup then


def test_no_request_id_no_header_and_no_mcp_flag_where_litellm_takes_none() -> None:
    found = args(JsonBody.of(EMBEDDINGS, {"model": "e", "input": "a"}), EMBEDDINGS, request_id=None)
    assert "extra_headers" not in found and "_skip_mcp_handler" not in found
    assert found["input"] == "a"


def test_an_audio_upload_becomes_litellms_file_and_typed_fields() -> None:
    form = FormBody(
        (
            ("model", "stt"),
            ("language", "de"),
            ("temperature", "0.3"),
            ("timestamp_granularities[]", "word"),
            ("timestamp_granularities[]", "segment"),
        ),
        (Upload("file", "a.wav", "audio/wav", b"RIFF"),),
    )
    found = args(form, TRANSCRIPTIONS)
    assert found["file"] == ("a.wav", b"RIFF", "audio/wav")
    assert found["language"] == "de" and found["temperature"] == 0.3
    assert found["timestamp_granularities"] == ["word", "segment"]
    assert found["model"] == "openai/gpt-4o-mini"
