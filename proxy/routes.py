"""Thin HTTP handlers: parse, resolve, ensure, forward. Decisions live in resolve.py."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.backends import Backends
from proxy.classify.features import extract
from proxy.classify.language import detect
from proxy.errors import AuthenticationError, BadRequestError
from proxy.forward import UpstreamRefusedError, forward
from proxy.resolve import model_ids, resolve_model
from supervisor.config import Config


def build_routes(config: Config) -> list[Route]:
    """Plain Starlette routes: this is the hot path, and FastAPI's per-request dependency
    machinery buys nothing for handlers that take the raw request."""
    keys = frozenset(config.proxy.api_keys)
    created = int(time.time())

    def authenticate(request: Request) -> None:
        if not keys:
            return
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in keys:
            raise AuthenticationError(
                "Missing or invalid API key: send 'Authorization: Bearer "
                "KEY' with one of the keys in proxy.api_keys."
            )

    async def list_models(request: Request) -> JSONResponse:
        authenticate(request)
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {
                        "id": name,
                        "object": "model",
                        "created": created,
                        "owned_by": "modelyard",
                        "modelyard": {"kind": kind},
                    }
                    for name, kind in model_ids(config)
                ],
            }
        )

    async def relay(request: Request, path: str, required: str | None) -> Response:
        authenticate(request)
        payload = await _json_object(request)
        if required is not None:
            _require_list(payload, required)
        model = payload.get("model")
        if model is not None and not isinstance(model, str):
            raise BadRequestError("'model' must be a string.", param="model")
        resolution = resolve_model(config, model)
        server = resolution.server
        backends: Backends = request.app.state.backends
        payload["model"] = config.served_name(server)
        body = json.dumps(payload).encode()
        features = extract(path, payload)
        headers = {
            "x-modelyard-model": server,
            "x-modelyard-intent": resolution.intent or "none",
            "x-modelyard-language": features.language_hint or detect(features.text).code,
        }
        if resolution.route:
            headers["x-modelyard-route"] = resolution.route
        base_url = await backends.ensure(server)
        try:
            return await forward(request.app.state.upstream, base_url + path, body, headers)
        except UpstreamRefusedError:
            # The remembered address went away (stopped, crashed, restarted elsewhere):
            # nothing was sent, so ask the supervisor again and send once more.
            backends.forget(server)
            base_url = await backends.ensure(server)
            return await forward(request.app.state.upstream, base_url + path, body, headers)

    async def chat_completions(request: Request) -> Response:
        return await relay(request, "/v1/chat/completions", required="messages")

    async def completions(request: Request) -> Response:
        return await relay(request, "/v1/completions", required=None)

    return [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
    ]


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise BadRequestError(f"The request body is not valid JSON: {exc}.") from exc
    if not isinstance(payload, dict):
        raise BadRequestError("The request body must be a JSON object.")
    return payload


def _require_list(payload: dict[str, Any], field: str) -> None:
    value = payload.get(field)
    if not isinstance(value, list) or not value:
        raise BadRequestError(f"'{field}' must be a non-empty array.", param=field)
