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
    ANTHROPIC,
    AUDIO_UPLOADS,
    CHAT,
    ENDPOINTS,
    RESPONSES,
)
from proxy import openapi
from proxy.apis.shapes import response_id
from proxy.audio_form import read_audio_form, routing_payload
from proxy.bodies import Body, JsonBody, NoBody
from proxy.context import ProxyContext
from proxy.degrade import decide
from proxy.dialects import anthropic_upstream_error
from proxy.errors import BadRequestError, ModelNotFoundError
from proxy.held_responses import held_plan, holder, pinned
from proxy.request_body import read_json
from proxy.request_log import request_id
from proxy.resolve import model_ids
from proxy.response_ids import Holder
from proxy.routing import Routed, describe, route
from proxy.validate import check_body
from proxy.waits import MAX_WAIT_HEADER, max_wait_for, parse_max_wait


def build_routes() -> list[Route]:
    # partial, not a lambda: Starlette runs a handler that is not visibly async in a thread
    def relay(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        return functools.partial(_relay, endpoint=endpoint)

    def upload(endpoint: str) -> Callable[[Request], Awaitable[Response]]:
        return functools.partial(_relay_upload, endpoint=endpoint)

    # every endpoint is relayed alike but for uploads (multipart) and the Responses API
    # (which remembers where each response is held)
    served = [
        Route(path, upload(path) if path in AUDIO_UPLOADS else relay(path), methods=["POST"])
        for path in ENDPOINTS
        if path != RESPONSES
    ]
    return [
        Route("/health", _health, methods=["GET"]),
        Route("/v1/models", _list_models, methods=["GET"]),
        Route("/v1/models/{model_id:path}", _get_model, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
        *served,
        Route(RESPONSES, _create_response, methods=["POST"]),
        Route(RESPONSES + "/{response_id}", _held_response, methods=["GET"]),
        Route(RESPONSES + "/{response_id}/cancel", _held_response, methods=["POST"]),
        Route("/route", _route_decision, methods=["POST"]),
        Route("/openapi.json", openapi.endpoint(), methods=["GET"]),
    ]


def _context(request: Request) -> ProxyContext:
    context: ProxyContext = request.app.state.proxy
    return context


async def _relay(request: Request, endpoint: str) -> Response:
    ctx = _context(request)
    payload = await _json_object(request)
    return await _serve(ctx, endpoint, payload, JsonBody.of(endpoint, payload), _asked(request))


async def _relay_upload(request: Request, endpoint: str) -> Response:
    ctx = _context(request)
    form = await read_audio_form(request, ctx.config.proxy.limits)
    return await _serve(ctx, endpoint, routing_payload(form), form, _asked(request))


async def _create_response(request: Request) -> Response:
    """POST /v1/responses: routed as chat, but a follow-up goes to the server that holds the
    conversation (held_responses.py), and every answer's id is remembered with its server."""
    ctx = _context(request)
    payload = await _json_object(request)
    asked = _asked(request)
    routed = await _decide(ctx, RESPONSES, payload)
    previous = payload.get("previous_response_id")
    if previous is not None:
        held = await holder(ctx.response_ids, ctx.backends, previous, "previous_response_id")
        routed = pinned(ctx.config, routed, held)
    body = JsonBody.of(RESPONSES, payload)
    response = await _answer(ctx, routed, RESPONSES, payload, body, asked)
    server = response.headers.get("x-modelyard-model", "")
    if server in ctx.config.servers:
        ctx.response_ids.learn(response, Holder(server, ctx.backends.instance(server)))
    return response


async def _held_response(request: Request) -> Response:
    """GET /v1/responses/{id} and POST .../cancel, relayed to the process that holds it."""
    ctx = _context(request)
    wanted = response_id(request.path_params["response_id"], "response_id")
    held = await holder(ctx.response_ids, ctx.backends, wanted)
    # built from the checked id, not from the path as the client spelled it
    path = f"{RESPONSES}/{wanted}" + ("/cancel" if request.method == "POST" else "")
    path += f"?{request.url.query}" if request.url.query else ""
    headers = {"x-modelyard-route": "none", "x-modelyard-intent": "none"}
    if (rid := request_id(request)) is not None:
        headers["x-request-id"] = rid
    plan = held_plan(held, wanted)
    return await ctx.composer.chain.send(plan, path, NoBody(request.method), headers)


def _asked(request: Request) -> dict[str, str]:
    """What the client's own headers add to the routing headers: its request id, and the max
    wait it asks for (checked here: a malformed one is a 400 before any work is done)."""
    asked = {}
    if (rid := request_id(request)) is not None:
        asked["x-request-id"] = rid
    if (raw := request.headers.get(MAX_WAIT_HEADER)) is not None:
        parse_max_wait(raw)
        asked[MAX_WAIT_HEADER] = raw
    return asked


async def _serve(
    ctx: ProxyContext, endpoint: str, payload: dict[str, Any], body: Body, asked: dict[str, str]
) -> Response:
    routed = await _decide(ctx, endpoint, payload)
    return await _answer(ctx, routed, endpoint, payload, body, asked)


async def _answer(
    ctx: ProxyContext,
    routed: Routed,
    endpoint: str,
    payload: dict[str, Any],
    body: Body,
    asked: dict[str, str],
) -> Response:
    plan = routed.plan
    # to the client, and upstream (forward.FORWARDED_HEADERS: the TTS sidecar's language hint);
    # the max wait only as far as the chain (fallback.Chain.send)
    headers = {
        "x-modelyard-intent": _token(plan.intent, "none"),
        "x-modelyard-language": _token(routed.language.code, "und"),
        "x-modelyard-route": _token(plan.route, "none"),
        **asked,
    }
    response = await ctx.composer.serve(routed, endpoint, payload, body, headers)
    if endpoint in ANTHROPIC:
        response = anthropic_upstream_error(response)
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
    asked = parse_max_wait(request.headers.get(MAX_WAIT_HEADER))
    routed = await _decide(ctx, endpoint, payload)
    degradation = decide(ctx.config, routed)
    said = degradation.describe() if degradation else None
    waits = await ctx.backends.waits(routed.plan.candidates)
    max_wait = max_wait_for(ctx.config, routed.plan.route, asked)
    return JSONResponse({**describe(routed, waits, max_wait), "degrade": said})


async def _health(request: Request) -> JSONResponse:
    """For load balancers: 200 while the proxy takes requests (a drain answers 503 before
    this runs: proxy/drain.py). Needs no key and asks nothing of the supervisor."""
    return JSONResponse({"status": "ok"})


async def _list_models(request: Request) -> JSONResponse:
    ctx = _context(request)
    models = [_model(ctx, name, kind) for name, kind in model_ids(ctx.config)]
    return JSONResponse({"object": "list", "data": models})


async def _get_model(request: Request) -> JSONResponse:
    ctx = _context(request)
    wanted = request.path_params["model_id"]
    kind = dict(model_ids(ctx.config)).get(wanted)
    if kind is None:
        raise ModelNotFoundError(
            f"The model {wanted!r} does not exist. GET /v1/models lists the servers, intents, "
            "routes and aliases this proxy serves.",
            param="model",
        )
    return JSONResponse(_model(ctx, wanted, kind))


def _model(ctx: ProxyContext, name: str, kind: str) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": ctx.started,
        "owned_by": "modelyard",
        "modelyard": {"kind": kind},
    }


async def _metrics(request: Request) -> Response:
    return Response(_context(request).metrics.render(), media_type="text/plain; version=0.0.4")


async def _json_object(request: Request) -> dict[str, Any]:
    return await read_json(request, _context(request).config.proxy.limits)
