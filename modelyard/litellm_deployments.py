"""One LiteLLM deployment (a `model_list` entry) as one modelyard server.

A deployment whose model is a Hugging Face repo behind a provider that serves such repos
(LiteLLM's `hosted_vllm/`, `vllm/`, `huggingface/`) becomes a local server that the
supervisor runs with vLLM; any other becomes a remote server called through LiteLLM.
What LiteLLM's router or proxy does for a deployment (rate limits, budgets, tags, weights)
has no place on a modelyard server and is noted, key by key.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.litellm_values import Notes, Values, env_ref
from modelyard_config.endpoints import NEEDS, REMOTE_CALLS

# Providers whose model names are Hugging Face repos that vLLM can load: `huggingface/`
# may put an inference provider or a task in front (`huggingface/together/org/name`).
LOCAL_PROVIDERS = frozenset({"hosted_vllm", "vllm", "huggingface"})
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# model_info.mode -> capabilities; LiteLLM's modes with no modelyard endpoint are SKIPPED.
MODES: dict[str, list[str]] = {
    "chat": ["text"],
    "completion": ["text"],
    "embedding": ["embedding"],
    "audio_transcription": ["transcription"],
    "audio_speech": ["speech"],
    "rerank": ["rerank"],
    "responses": ["text", "responses"],  # /v1/responses needs both (endpoints.NEEDS)
}
SKIPPED_MODES = frozenset(
    {
        "image_generation",
        "image_edit",
        "video_generation",
        "realtime",
        "moderation",
        "search",
        "ocr",
        "evaluation",
        "extraction",
        "guardrail",
        "vector_store",
    }
)
# model_info flags that add a capability to a chat model.
FLAGS = {"supports_vision": "image", "supports_function_calling": "tools"}

_RATE = "a per-deployment rate limit: modelyard has none per server (proxy.access limits keys)"
_SPEND = "spend tracking: modelyard keeps no costs or budgets"
_PROXY = "a LiteLLM router or proxy setting with no counterpart in servers.yaml"
# litellm_params that LiteLLM's router or proxy reads, not its SDK call: never passed on.
ROUTER_PARAMS: dict[str, str] = {
    **dict.fromkeys(
        ("rpm", "tpm", "itpm", "otpm", "max_parallel_requests", "default_api_key_tpm_limit"),
        _RATE,
    ),
    "default_api_key_rpm_limit": _RATE,
    "max_budget": _SPEND,
    "budget_duration": _SPEND,
    "weight": "weighted choice in a model group: a modelyard group balances its members itself",
    "order": "ordered choice in a model group: a modelyard group balances its members itself",
    "tags": "tag routing: modelyard routes by model name and intent",
    "tag_regex": "tag routing: modelyard routes by model name and intent",
    "stream_timeout": "modelyard has one first-byte timeout per server (taken from `timeout`)",
    "timeout_by_service_tier": "modelyard has one first-byte timeout per server",
    "stream_timeout_by_service_tier": "modelyard has one first-byte timeout per server",
    "litellm_credential_name": "a credential stored in LiteLLM: name its key's variable in "
    "remote.api_key_env",
    **dict.fromkeys(
        (
            "region_name",
            "use_in_pass_through",
            "use_litellm_proxy",
            "model_info",
            "litellm_trace_id",
            "max_file_size_mb",
            "keepalive_seconds",
            "allow_client_keepalive_override",
            "provider_affinity_header",
            "configurable_clientside_auth_params",
            "mock_response",
        ),
        _PROXY,
    ),
}
_ROUTER_PREFIXES = ("auto_router_", "complexity_router_", "adaptive_router_", "quality_router_")
# Read into the server itself, so never passed on as a parameter.
_OWN = frozenset({"model", "api_key", "api_base", "api_version", "max_retries", "timeout"})


def skip_reason(entry: dict[str, Any], remote_only: bool) -> str | None:
    """Why a deployment cannot become a server at all, or None."""
    model = entry["litellm_params"]["model"]
    if "*" in model or "*" in entry["model_name"]:
        return (
            "a wildcard deployment (any model of a provider): modelyard serves named models; "
            "add one entry per model"
        )
    mode = (entry.get("model_info") or {}).get("mode")
    if mode in SKIPPED_MODES:
        return f"mode {mode}: modelyard serves no such endpoint"
    remote = remote_only or local_model(model) is None
    if remote and all(_remote_cannot(cap) for cap in MODES.get(mode or "chat", ["text"])):
        return f"mode {mode}: modelyard calls no LiteLLM function for it on a remote server"
    return None


def _remote_cannot(capability: str) -> bool:
    """As modelyard_config.checks refuses it: only endpoints a remote server is not called
    for need this capability."""
    served = [endpoint for endpoint, needs in NEEDS.items() if capability in needs]
    return bool(served) and not any(endpoint in REMOTE_CALLS for endpoint in served)


def local_model(model: str) -> str | None:
    """The Hugging Face repo a deployment names, when its provider is one vLLM can stand in
    for; None: it stays remote."""
    provider, _, rest = model.partition("/")
    if provider not in LOCAL_PROVIDERS:
        return None
    parts = rest.split("/")
    repo = "/".join(parts[-2:]) if provider == "huggingface" and len(parts) == 3 else rest
    return repo if REPO_ID.match(repo) else None


def capabilities(where: str, info: dict[str, Any], notes: Notes) -> list[str]:
    mode = info.get("mode")
    if mode is None:  # LiteLLM's own default: a chat model
        mode = "chat"
    if mode not in MODES:
        notes.dropped(f"{where}.model_info.mode", f"unknown mode {mode!r}: served as text")
        mode = "chat"
    caps = list(MODES[mode])
    if mode == "chat":
        caps += [cap for flag, cap in FLAGS.items() if info.get(flag) is True]
    for key in info:
        if key != "mode" and key not in FLAGS:
            notes.dropped(
                f"{where}.model_info.{key}", "LiteLLM's model metadata: servers.yaml has no field"
            )
    return caps


def server_spec(
    index: int, entry: dict[str, Any], name: str, remote_only: bool, values: Values
) -> dict[str, Any]:
    """The servers.<name> mapping for model_list[index]."""
    where = f"model_list[{index}]"
    notes = values.notes
    for key in entry:
        if key not in ("model_name", "litellm_params", "model_info"):
            notes.dropped(f"{where}.{key}", "not a deployment field servers.yaml carries")
    params: dict[str, Any] = entry["litellm_params"]
    caps = capabilities(where, entry.get("model_info") or {}, notes)
    repo = None if remote_only else local_model(params["model"])
    if repo is None:
        spec = _remote(where, params, name, values)
        if not remote_only and params["model"].partition("/")[0] in LOCAL_PROVIDERS:
            notes.review(
                f"servers.{name}.remote",
                f"{params['model']!r} names no Hugging Face repo (org/name): kept remote",
            )
    else:
        spec = {"model": repo}
        _local_leftovers(where, params, notes)
        notes.review(
            f"servers.{name}.gpu_memory_fraction",
            "no GPU budget is known: vLLM takes 90% of the GPU and the supervisor plans none "
            "for it; set one",
        )
    spec["capabilities"] = caps
    retry = _retry(where, params, values)
    if retry:
        spec["retry"] = retry
    return spec


def _remote(where: str, params: dict[str, Any], name: str, values: Values) -> dict[str, Any]:
    remote: dict[str, Any] = {"model": params["model"]}
    for key in ("api_base", "api_version"):
        if params.get(key) is not None:
            ok, value = values.plain(
                f"{where}.litellm_params.{key}", params[key], f"set servers.{name}.remote.{key}"
            )
            if ok:
                remote[key] = value
    key_env = _api_key_env(where, params.get("api_key"), name, values.notes)
    if key_env:
        remote["api_key_env"] = key_env
    passed = {}
    for key, value in params.items():
        path = f"{where}.litellm_params.{key}"
        if key in _OWN:
            continue
        if key in ROUTER_PARAMS or key.startswith(_ROUTER_PREFIXES):
            values.notes.dropped(path, ROUTER_PARAMS.get(key, _PROXY))
            continue
        fix = f"set servers.{name}.remote.params.{key}"
        ok, carried = values.params(f"{where}.litellm_params", {key: value}, fix)
        if ok and key in carried:
            passed[key] = carried[key]
    if passed:
        remote["params"] = passed
    return {"remote": remote}


def _api_key_env(where: str, api_key: Any, name: str, notes: Notes) -> str | None:
    if api_key is None:
        return None
    path = f"{where}.litellm_params.api_key"
    variable = env_ref(api_key)
    if variable is not None and ENV_NAME.match(variable):
        return variable
    notes.dropped(
        path,
        "a literal key is never written to servers.yaml: set it in an env var and name it in "
        f"servers.{name}.remote.api_key_env",
    )
    return None


def _local_leftovers(where: str, params: dict[str, Any], notes: Notes) -> None:
    for key in params:
        if key in ("model", "max_retries", "timeout"):
            continue
        path = f"{where}.litellm_params.{key}"
        if key in ROUTER_PARAMS:
            notes.dropped(path, ROUTER_PARAMS[key])
        elif key in ("api_base", "api_key", "api_version"):
            notes.dropped(
                path,
                "modelyard runs this model itself with vLLM (--remote-only keeps calling the "
                "server LiteLLM called)",
            )
        else:
            notes.dropped(path, "a LiteLLM call parameter: modelyard runs this model with vLLM")


def _retry(where: str, params: dict[str, Any], values: Values) -> dict[str, Any]:
    """LiteLLM's max_retries counts retries, modelyard's attempts count tries. LiteLLM's
    `timeout` bounds a whole call; modelyard bounds the wait for the first byte, which for a
    call that is not streamed is the whole answer."""
    retry: dict[str, Any] = {}
    for key, field, fix in (
        ("max_retries", "attempts", lambda n: n + 1),
        ("timeout", "first_byte_timeout", float),
    ):
        if params.get(key) is None:
            continue
        path = f"{where}.litellm_params.{key}"
        ok, value = values.plain(path, params[key], f"set the server's retry.{field}")
        if not ok:
            continue
        number = _number(value, integer=key == "max_retries")
        if number is None:
            values.notes.dropped(path, f"{value!r} is not a number of the right kind")
            continue
        retry[field] = fix(number)
    return retry


def _number(value: Any, integer: bool) -> float | int | None:
    """A count or a number of seconds, also as the string an environment variable holds."""
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool) or number < (0 if integer else 1e-9):
        return None
    return number
