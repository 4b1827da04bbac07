"""The arguments of one LiteLLM call for a remote server: the client's body as keyword
arguments, then the server's own settings over them. Pure: the body, the server's spec and
the names LiteLLM reads as its own settings in, a dict out.

- `model` is the server's `remote.model`; `max_tokens` and its kin are lowered to the server's
  ceiling as for a local server (bodies.JsonBody.fields).
- A field that LiteLLM reads as a setting of its own (`api_base`, `api_key`, `mock_response`,
  `metadata`, ... : litellm.types.utils.all_litellm_params, passed in as `reserved`) or that
  the OpenAI SDK reads as one (`extra_headers`, `extra_body`, `extra_query`, `base_url`) is
  never taken from a client: one that could set `api_base` could send modelyard's key
  elsewhere. The server's config sets those.
- An audio upload (bodies.FormBody) becomes LiteLLM's `file` (name, bytes, type) and its
  text fields; `temperature` as a number, `timestamp_granularities[]` as a list.
- The call never retries (`num_retries`, `max_retries` 0): modelyard's retry policy and
  breaker decide. Its timeout is the one local servers get (`proxy.request_timeout`).
- Upstream goes the request's `x-request-id` (`extra_headers`, with the server's own
  `params.extra_headers` winning), so a provider's or an OpenAI-compatible server's logs can
  be matched with modelyard's; modelyard's routing headers (x-modelyard-*) are its own and are
  not sent to a hosted provider.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from modelyard_config.endpoints import CHAT, MESSAGES, RESPONSES
from modelyard_config.servers import RemoteSpec
from proxy.bodies import Body, FormBody, JsonBody

_SDK_SETTINGS = frozenset({"extra_headers", "extra_body", "extra_query", "base_url"})
# LiteLLM 1.106.12 imports its MCP gateway (the `mcp` package) on these calls unless told to
# skip it, even when no tool asks for a gateway; modelyard never uses that gateway.
_SKIPS_MCP = frozenset({CHAT, RESPONSES, MESSAGES})


def arguments(
    endpoint: str,
    body: Body,
    spec: RemoteSpec,
    *,
    api_key: str | None,
    max_tokens: int | None,
    timeout: float,
    request_id: str | None,
    reserved: Collection[str],
) -> dict[str, Any]:
    """The keyword arguments of the call for `endpoint` (its function: endpoints.REMOTE_CALLS)."""
    taken = {
        key: value
        for key, value in _client_fields(body, spec.model, max_tokens).items()
        if key not in reserved and key not in _SDK_SETTINGS
    }
    own: dict[str, Any] = {
        "model": spec.model,
        "timeout": timeout,
        "num_retries": 0,
        "max_retries": 0,
    }
    if spec.api_base is not None:
        own["api_base"] = spec.api_base
    if api_key is not None:
        own["api_key"] = api_key
    if spec.api_version is not None:
        own["api_version"] = spec.api_version
    if endpoint in _SKIPS_MCP:
        own["_skip_mcp_handler"] = True
    params = dict(spec.params)
    headers = _headers(params.pop("extra_headers", None), request_id)
    if headers:
        own["extra_headers"] = headers
    return {**taken, **params, **own}


def _client_fields(body: Body, model: str, max_tokens: int | None) -> dict[str, Any]:
    if isinstance(body, JsonBody):
        return body.fields(model, max_tokens)
    if isinstance(body, FormBody):
        return _form_fields(body)
    return {}


def _form_fields(form: FormBody) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in form.fields:
        if name == "model":
            continue
        if name.endswith("[]"):
            fields.setdefault(name[:-2], []).append(value)
        elif name == "temperature":
            fields[name] = _number(value)
        else:
            fields[name] = value
    for upload in form.files:
        fields[upload.field] = (upload.filename, upload.data, upload.content_type)
    return fields


def _number(value: str) -> float | str:
    try:
        return float(value)
    except ValueError:
        return value  # the provider says what is wrong with it


def _headers(configured: object, request_id: str | None) -> dict[str, str]:
    headers = {"x-request-id": request_id} if request_id else {}
    if isinstance(configured, Mapping):
        headers.update({str(k): str(v) for k, v in configured.items()})
    return headers
