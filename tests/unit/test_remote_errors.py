"""A LiteLLM failure read as the chain reads a local server's (issue 17), on LiteLLM 1.106.12's
real exception classes, chained as that version raises them (seen on the wire against a local
upstream; proxy/remote_errors.py says where each shape came from)."""

from __future__ import annotations

import os

import httpx
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
litellm = pytest.importorskip("litellm")
import openai  # noqa: E402  (after LiteLLM, which brings it)

from proxy.remote_errors import Failed, Refused, outcome_of  # noqa: E402

KEY = "sk-unit-secret-1234"
REQUEST = httpx.Request("POST", "http://provider.test/v1/chat/completions")


def caused(outer: BaseException, *inner: BaseException) -> BaseException:
    """`outer` raised from `inner[0]`, raised from `inner[1]`, ...: LiteLLM's wrapping."""
    current = outer
    for cause in inner:
        current.__cause__ = cause
        current = cause
    return outer


def response(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=REQUEST)


def failed(exc: BaseException) -> Failed:
    outcome = outcome_of(exc, KEY)
    assert isinstance(outcome, Failed), outcome
    return outcome


def test_a_timeout_is_timeout() -> None:
    exc = litellm.Timeout("Request timed out", model="m", llm_provider="openai")
    assert failed(exc).reason == "timeout"
    assert failed(TimeoutError()).reason == "timeout"


def test_a_refused_connection_under_an_internal_server_error_is_connect() -> None:
    """LiteLLM raises a refusal as InternalServerError (500) over the SDK's APIConnectionError."""
    exc = caused(
        litellm.InternalServerError("Connection error.", llm_provider="openai", model="m"),
        openai.APIConnectionError(request=REQUEST),
        httpx.ConnectError("refused"),
    )
    assert failed(exc).reason == "connect"


def test_litellms_own_connection_error_without_a_network_cause_is_error_not_connect() -> None:
    """LiteLLM wraps its own failures (an import inside a call) as APIConnectionError."""
    exc = caused(
        litellm.APIConnectionError("No module named 'mcp'", llm_provider="openai", model="m"),
        ModuleNotFoundError("No module named 'mcp'"),
    )
    assert failed(exc).reason == "error"


def test_a_call_the_sdk_refused_to_send_is_the_servers_config() -> None:
    exc = caused(
        litellm.InternalServerError("Missing credentials", llm_provider="openai", model="m"),
        openai.OpenAIError("Missing credentials"),
    )
    assert failed(exc).reason == "config"


@pytest.mark.parametrize(
    "exc",
    [
        litellm.AuthenticationError("bad key", llm_provider="openai", model="m"),
        litellm.PermissionDeniedError(
            "no", llm_provider="openai", model="m", response=response(403)
        ),
        # 1.106.12 raises a provider's 403 and 402 as a plain APIError with the status
        litellm.APIError(403, "forbidden", llm_provider="openai", model="m"),
        litellm.APIError(402, "pay up", llm_provider="openai", model="m"),
    ],
)
def test_the_servers_own_key_or_account_refused_is_auth(exc: BaseException) -> None:
    assert failed(exc).reason == "auth"


def test_a_model_the_provider_does_not_know_is_config_not_the_clients() -> None:
    exc = litellm.NotFoundError("no such model", model="m", llm_provider="openai")
    assert failed(exc).reason == "config"
    unknown = litellm.exceptions.LiteLLMUnknownProvider(model="x/y", custom_llm_provider="x")
    assert failed(unknown).reason == "config"


def test_a_429_keeps_the_providers_retry_after() -> None:
    exc = litellm.RateLimitError("slow down", llm_provider="openai", model="m")
    # where 1.106.12's exception mapping puts the provider's headers
    exc.litellm_response_headers = httpx.Headers({"retry-after": "7"})
    outcome = failed(exc)
    assert (outcome.reason, outcome.retry_after) == ("429", 7.0)
    bare = litellm.RateLimitError("slow down", llm_provider="openai", model="m")
    assert failed(bare).retry_after is None


@pytest.mark.parametrize(
    "exc",
    [
        litellm.InternalServerError("boom", llm_provider="openai", model="m"),
        litellm.ServiceUnavailableError("busy", llm_provider="openai", model="m"),
        litellm.BadGatewayError("gateway", llm_provider="openai", model="m"),
    ],
)
def test_a_5xx_is_5xx(exc: BaseException) -> None:
    assert failed(exc).reason == "5xx"


def test_a_bad_request_is_the_clients_passed_on_in_openais_shape() -> None:
    exc = litellm.BadRequestError("temperature must be <= 2", model="m", llm_provider="openai")
    outcome = outcome_of(exc, KEY)
    assert isinstance(outcome, Refused)
    assert outcome.status == 400
    error = outcome.body["error"]
    assert error["type"] == "invalid_request_error"
    assert "temperature must be <= 2" in error["message"]


def test_a_context_window_exceeded_is_the_clients_with_openais_code() -> None:
    exc = litellm.ContextWindowExceededError("too long", model="m", llm_provider="openai")
    outcome = outcome_of(exc, KEY)
    assert isinstance(outcome, Refused)
    assert (outcome.status, outcome.body["error"]["code"]) == (400, "context_length_exceeded")


def test_a_422_is_the_clients() -> None:
    exc = litellm.UnprocessableEntityError(
        "bad field", model="m", llm_provider="openai", response=response(422)
    )
    outcome = outcome_of(exc, KEY)
    assert isinstance(outcome, Refused) and outcome.status == 422


def test_the_key_never_appears_in_what_comes_out() -> None:
    auth = litellm.AuthenticationError(f"Incorrect key {KEY}", llm_provider="openai", model="m")
    assert KEY not in failed(auth).detail and "***" in failed(auth).detail
    bad = litellm.BadRequestError(f"key {KEY} cannot do that", model="m", llm_provider="openai")
    refused = outcome_of(bad, KEY)
    assert isinstance(refused, Refused) and KEY not in str(refused.body)
