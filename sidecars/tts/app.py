"""HTTP routes: thin handlers over a catalog loaded before the app is built.

Synthesis and encoding run in worker threads (`asyncio.to_thread`) so /health and other
requests keep answering while a long input is spoken.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openai_wire.errors import HANDLERS
from sidecars.tts.catalog import Catalog
from sidecars.tts.choose import MODEL_ENGINES, Cues, choose
from sidecars.tts.encode import encode
from sidecars.tts.languages import LANGUAGE_NAMES
from sidecars.tts.speech_request import parse_speech_body
from sidecars.tts.voices import OPENAI_VOICES

LANGUAGE_HEADER = "x-modelyard-language"


def create_app(catalog: Catalog) -> Starlette:
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ready", "engines": [e.name for e in catalog.engines]})

    async def models(request: Request) -> JSONResponse:
        ids = [*MODEL_ENGINES, *(engine.name for engine in catalog.engines)]
        data = [{"id": id_, "object": "model", "owned_by": "modelyard"} for id_ in ids]
        return JSONResponse({"object": "list", "data": data})

    async def voices(request: Request) -> JSONResponse:
        return JSONResponse(_voices_listing(catalog))

    async def speech(request: Request) -> Response:
        body = parse_speech_body(await request.body())
        cues = Cues(
            model=body.model,
            voice=body.voice,
            text=body.input,
            language=body.language,
            hint=request.headers.get(LANGUAGE_HEADER),
        )
        choice = choose(catalog, cues)
        audio = await asyncio.to_thread(
            choice.engine.synthesize, body.input, choice.voice, body.speed
        )
        encoded = await asyncio.to_thread(encode, audio, body.response_format)
        headers = {
            "x-modelyard-tts-engine": choice.engine.name,
            "x-modelyard-tts-voice": choice.voice.id,
            "x-modelyard-tts-language": choice.language,
            "x-sample-rate": str(encoded.sample_rate),
        }
        return Response(encoded.body, media_type=encoded.content_type, headers=headers)

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", models),
            Route("/v1/voices", voices),
            Route("/v1/audio/speech", speech, methods=["POST"]),
        ],
        exception_handlers=HANDLERS,
    )


def _voices_listing(catalog: Catalog) -> dict[str, Any]:
    engines: list[dict[str, Any]] = [
        {
            "name": engine.name,
            "available": True,
            "languages": sorted({voice.language for voice in engine.voices}),
            "voices": [{"id": v.id, "language": v.language} for v in engine.voices],
        }
        for engine in catalog.engines
    ]
    engines += [
        {"name": item.name, "available": False, "reason": item.reason}
        for item in catalog.unavailable
    ]
    personas = {name: {"espeak_variant": p.espeak_variant} for name, p in OPENAI_VOICES.items()}
    return {
        "engines": engines,
        "languages": {code: LANGUAGE_NAMES.get(code, code) for code in sorted(catalog.languages())},
        "openai_voices": personas,
    }
