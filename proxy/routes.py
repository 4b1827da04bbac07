"""Thin HTTP handlers: parse, resolve, ensure, forward. Decisions live in resolve.py."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from modelyard_config import Config
from modelyard_config.endpoints import (
    CHAT,
    COMPLETIONS,
    ENDPOINTS,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)
from proxy.audio_form import read_audio_form, routing_payload
from proxy.bodies import Body, JsonBody
from proxy.compose import Composer, degradation, may_transcribe, may_use_frames, wants_spoken_answer
from proxy.errors import AuthenticationError, BadRequestError, UnsupportedInputError
from proxy.fallback import AllCandidatesFailedError, Chain
from proxy.resolve import model_ids
from proxy.routing import Routed, describe, route
from proxy.validate import check_chat, check_completion, check_speech

log = logging.getLogger("modelyard.proxy")


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

    async def decide(request: Request, endpoint: str, payload: dict[str, Any]) -> Routed:
        if endpoint == CHAT:
            check_chat(payload)
        elif endpoint == COMPLETIONS:
            check_completion(payload)
        elif endpoint == SPEECH:
            check_speech(payload)
        return await route(config, request.app.state.classifier, endpoint, payload)

    async def relay(request: Request, path: str) -> Response:
        authenticate(request)
        payload = await _json_object(request)
        return await serve(request, path, payload, JsonBody(payload))

    async def relay_upload(request: Request, path: str) -> Response:
        authenticate(request)
        form = await read_audio_form(request)
        return await serve(request, path, routing_payload(form), form)

    async def serve(request: Request, path: str, payload: dict[str, Any], body: Body) -> Response:
        routed = await decide(request, path, payload)
        plan = routed.plan
        headers = {
            "x-modelyard-intent": plan.intent or "none",
            "x-modelyard-language": routed.language.code,
            "x-modelyard-route": plan.route or "none",
        }
        chain: Chain = request.app.state.chain
        composer: Composer = request.app.state.composer
        if wants_spoken_answer(config, routed):
            return await composer.spoken(payload, headers)
        # A declared degradation serves what the chain cannot: none of its servers takes the
        # input, or all of them failed (the 503 would name each try).
        degraded = (
            composer.heard
            if may_transcribe(config, routed)
            else composer.seen
            if may_use_frames(config, routed)
            else None
        )
        if degraded is not None:
            if plan.candidates:
                try:
                    return await chain.send(plan, path, body, headers)
                except AllCandidatesFailedError as exc:
                    log.warning("degrading %s: %s", plan.route, exc.message)
            return await degraded(payload, headers)
        if not plan.candidates:
            raise UnsupportedInputError(
                f"No server in the {plan.route or plan.requested!r} chain can take this "
                "request: "
                + "; ".join(f"{server} {why}" for server, why in plan.skipped)
                + ". POST /route shows the decision.",
                param="messages" if path == CHAT else None,
            )
        return await chain.send(plan, path, body, headers)

    async def chat_completions(request: Request) -> Response:
        return await relay(request, CHAT)

    async def completions(request: Request) -> Response:
        return await relay(request, COMPLETIONS)

    async def transcriptions(request: Request) -> Response:
        return await relay_upload(request, TRANSCRIPTIONS)

    async def translations(request: Request) -> Response:
        return await relay_upload(request, TRANSLATIONS)

    async def speech(request: Request) -> Response:
        return await relay(request, SPEECH)

    async def route_decision(request: Request) -> JSONResponse:
        """The decision for a request body, without forwarding it."""
        authenticate(request)
        endpoint = request.query_params.get("endpoint", CHAT)
        if endpoint not in ENDPOINTS:
            raise BadRequestError(
                f"Unknown endpoint {endpoint!r}; one of: {', '.join(ENDPOINTS)}.",
                param="endpoint",
            )
        payload = await _json_object(request)
        routed = await decide(request, endpoint, payload)
        return JSONResponse({**describe(routed), "degrade": degradation(config, routed)})

    async def metrics(request: Request) -> Response:
        return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")

    return [
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/translations", translations, methods=["POST"]),
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/route", route_decision, methods=["POST"]),
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
