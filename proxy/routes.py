"""Thin HTTP handlers: check, route, serve. Keys and their limits are checked before any
handler runs (proxy/access.py). Decisions live in routing.py, resolve.py and
degrade.py; serving a decision in compose.py.

Plain Starlette routes: this is the hot path, and FastAPI's per-request dependency machinery
buys nothing for handlers that take the raw request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelyard_config.endpoints import (
    CHAT,
    COMPLETIONS,
    ENDPOINTS,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
from proxy import openapi
from proxy.audio_form import read_audio_form, routing_payload
from proxy.bodies import Body, JsonBody
from proxy.context import ProxyContext
from proxy.degrade import decide
from proxy.errors import BadRequestError
from proxy.request_body import read_json
from proxy.request_log import request_id
from proxy.resolve import model_ids
from proxy.routing import Routed, describe, route
from proxy.validate import check_body


def build_routes() -> list[Route]:
    # partial, not a lambda: Starlette runs a handler that is not visibly async in a thread
    def relay(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        return functools.partial(_relay, endpoint=endpoint)

    def upload(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        return functools.partial(_relay_upload, endpoint=endpoint)

    return [
        Route("/v1/models", _list_models, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
        Route(CHAT, relay(CHAT), methods=["POST"]),
        Route(COMPLETIONS, relay(COMPLETIONS), methods=["POST"]),
        Route(TRANSCRIPTIONS, upload(TRANSCRIPTIONS), methods=["POST"]),
        Route(TRANSLATIONS, upload(TRANSLATIONS), methods=["POST"]),
        Route(SPEECH, relay(SPEECH), methods=["POST"]),
        Route("/route", _route_decision, methods=["POST"]),
        Route("/openapi.json", openapi.endpoint(), methods=["GET"]),
    ]


def _context(request: Request) -> ProxyContext:
    context: ProxyContext = request.app.state.proxy
    return context


async def _relay(request: Request, endpoint: str) -> Response:
    ctx = _context(request)
    payload = await _json_object(request)
    return await _serve(ctx, endpoint, payload, JsonBody(payload), request_id(request))


async def _relay_upload(request: Request, endpoint: str) -> Response:
    ctx = _context(request)
    form = await read_audio_form(request, ctx.config.proxy.limits)
    return await _serve(ctx, endpoint, routing_payload(form), form, request_id(request))


async def _serve(
    ctx: ProxyContext, endpoint: str, payload: dict[str, Any], body: Body, rid: str | None
) -> Response:
    routed = await _decide(ctx, endpoint, payload)
    plan = routed.plan
    # to the client, and upstream (forward.FORWARDED_HEADERS: the TTS sidecar's language hint)
    headers = {
        "x-modelyard-intent": _token(plan.intent, "none"),
        "x-modelyard-language": _token(routed.language.code, "und"),
        "x-modelyard-route": _token(plan.route, "none"),
    }
    if rid is not None:
        headers["x-request-id"] = rid
    response = await ctx.composer.serve(routed, endpoint, payload, body, headers)
    # the server that answered lowered max_tokens to its ceiling (bodies.JsonBody.render)
    answered = ctx.config.servers.get(response.headers.get("x-modelyard-model", ""))
    lowered = body.capped(answered.max_tokens) if answered is not None else None
    if lowered is not None:
        response.headers["x-modelyard-max-tokens"] = str(lowered)
    return response


# A header value made from a request (a transcription's `language` becomes the language): a
# plain token, or the default, whatever the request held; never a 500 or a second header.
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")


def _token(value: str | None, default: str) -> str:
    return value if value is not None and _TOKEN.fullmatch(value) else default


async def _decide(ctx: ProxyContext, endpoint: str, payload: dict[str, Any]) -> Routed:
    check_body(endpoint, payload, ctx.config.proxy.limits)
    return await route(ctx.config, ctx.classifier, endpoint, payload)


async def _route_decision(request: Request) -> JSONResponse:
    """The decision for a request body, without forwarding it."""
    ctx = _context(request)
    endpoint = request.query_params.get("endpoint", CHAT)
    if endpoint not in ENDPOINTS:
        raise BadRequestError(
            f"Unknown endpoint {endpoint!r}; one of: {', '.join(ENDPOINTS)}.", param="endpoint"
        )
    payload = await _json_object(request)
    routed = await _decide(ctx, endpoint, payload)
    degradation = decide(ctx.config, routed)
    said = degradation.describe() if degradation else None
    return JSONResponse({**describe(routed), "degrade": said})


async def _list_models(request: Request) -> JSONResponse:
    ctx = _context(request)
    models = [
        {
            "id": name,
            "object": "model",
            "created": ctx.started,
            "owned_by": "modelyard",
            "modelyard": {"kind": kind},
        }
        for name, kind in model_ids(ctx.config)
    ]
    return JSONResponse({"object": "list", "data": models})


async def _metrics(request: Request) -> Response:
    return Response(_context(request).metrics.render(), media_type="text/plain; version=0.0.4")


async def _json_object(request: Request) -> dict[str, Any]:
    return await read_json(request, _context(request).config.proxy.limits)
