"""`python -m sidecars.stt`: validate the settings, load every model, then serve.

Loading comes before uvicorn binds, so a client (or the supervisor's health check) can never
reach a server whose models are still loading, and a broken model is a clear message and
exit status 2 rather than a traceback from inside the server.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

import uvicorn
from pydantic import ValidationError

from sidecars.stt.app import create_app
from sidecars.stt.catalog import resolve
from sidecars.stt.engine import Engine
from sidecars.stt.errors import ModelSetupError
from sidecars.stt.settings import MAX_AUDIO_SECONDS, Settings
from sidecars.stt.whisper import WhisperEngine

log = logging.getLogger("sidecars.stt")


def parse_args(argv: Sequence[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m sidecars.stt", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument(
        "--model-dir",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="serve a ready CTranslate2 Whisper directory as NAME (PATH alone: its folder name)",
    )
    parser.add_argument("--cache-dir", help="where split models are assembled")
    parser.add_argument(
        "--model", action="append", default=[], help="load only these (first is the default)"
    )
    parser.add_argument("--cpu-threads", type=int, default=2)
    parser.add_argument("--compute-type", default="int8")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument(
        "--max-audio-seconds",
        type=float,
        default=MAX_AUDIO_SECONDS,
        help="refuse (413 audio_too_long) an upload whose audio is longer than this",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    fields: dict[str, object] = {
        "host": args.host,
        "port": args.port,
        "extra_models": [_extra_model(spec) for spec in args.model_dir],
        "only": args.model,
        "cpu_threads": args.cpu_threads,
        "compute_type": args.compute_type,
        "beam_size": args.beam_size,
        "max_audio_seconds": args.max_audio_seconds,
        "log_level": args.log_level,
    }
    if args.cache_dir:
        fields["cache_dir"] = args.cache_dir
    try:
        return Settings.model_validate(fields)
    except ValidationError as exc:
        parser.error(str(exc))


def _extra_model(spec: str) -> dict[str, str]:
    name, sep, path = spec.partition("=")
    if not sep:
        path = name
        name = path.rstrip("/").rsplit("/", 1)[-1]
    return {"name": name, "path": path}


def load_engines(settings: Settings) -> dict[str, Engine]:
    engines: dict[str, Engine] = {}
    for source in resolve(settings):
        started = time.perf_counter()
        engines[source.name] = WhisperEngine.load(
            source.name,
            source.path,
            settings.cpu_threads,
            settings.compute_type,
            settings.beam_size,
        )
        log.info(
            "loaded %s from %s (%s) in %.1f s",
            source.name,
            source.path,
            source.origin,
            time.perf_counter() - started,
        )
    return engines


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s: %(message)s")
    try:
        engines = load_engines(settings)
    except ModelSetupError as exc:
        print(f"stt sidecar: {exc}", file=sys.stderr)
        return 2
    app = create_app(engines, settings.max_upload_bytes, settings.max_audio_seconds)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level, lifespan="off"
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
