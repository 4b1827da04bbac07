"""The HTTP surface: wiring and thin routes over already-loaded engines.

Models are loaded by the CLI before uvicorn binds its socket, so a reachable `/health` always
means ready; the app itself only reads `engines`, which it never changes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from openai_wire.errors import HANDLERS
from sidecars.stt import audio, form
from sidecars.stt.engine import DecodeOptions, Engine, Task, Transcript
from sidecars.stt.render import render
from sidecars.stt.selection import LANGUAGE_HEADER, pick_engine, pick_language


def create_app(
    engines: Mapping[str, Engine], max_upload_bytes: int, max_audio_seconds: float
) -> Starlette:
    created = int(time.time())

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ready", "models": list(engines)})

    async def list_models(request: Request) -> JSONResponse:
        data = [
            {"id": name, "object": "model", "created": created, "owned_by": "modelyard"}
            for name in engines
        ]
        return JSONResponse({"object": "list", "data": data})

    async def handle(request: Request, task: Task) -> Response:
        fields, upload = await form.read(request, max_upload_bytes)
        engine = pick_engine(engines, fields.model, task)
        language = pick_language(engine, fields.language, request.headers.get(LANGUAGE_HEADER))
        options = DecodeOptions(
            task=task,
            language=language,
            prompt=fields.prompt,
            temperature=fields.temperature or None,
            word_timestamps=fields.response_format == "verbose_json"
            and "word" in fields.timestamp_granularities,
        )
        transcript = await run_in_threadpool(
            _transcribe, engine, upload, options, max_audio_seconds
        )
        return render(transcript, fields.response_format, fields.timestamp_granularities)

    async def transcriptions(request: Request) -> Response:
        return await handle(request, "transcribe")

    async def translations(request: Request) -> Response:
        return await handle(request, "translate")

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", list_models),
            Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
            Route("/v1/audio/translations", translations, methods=["POST"]),
        ],
        exception_handlers=HANDLERS,
    )


def _transcribe(
    engine: Engine, upload: form.Upload, options: DecodeOptions, max_audio_seconds: float
) -> Transcript:
    """Decoding is CPU work too, so it runs on the worker thread beside the model."""
    samples = audio.decode(upload.data, upload.filename, max_audio_seconds)
    return engine.run(samples, options)
