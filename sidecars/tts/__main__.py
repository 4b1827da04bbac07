"""`python -m sidecars.tts --host H --port P`: load the engines, then serve until SIGTERM.

Engines load before the socket opens, so a connection that succeeds means /health is 200.
uvicorn owns the signals while serving: SIGTERM stops accepting, lets in-flight requests (and
any espeak-ng child they wait on) finish, then the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn

from sidecars.tts.app import create_app
from sidecars.tts.catalog import Settings, load_catalog
from sidecars.tts.errors import EngineSetupError


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sidecars.tts", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--espeak-binary", default="espeak-ng")
    parser.add_argument("--piper-model", type=Path, help="a Piper .onnx voice (default: joe)")
    parser.add_argument("--coqui-model", type=Path, help="a local Coqui model directory")
    parser.add_argument("--coqui-language", default="en")
    parser.add_argument("--log-level", default="info")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = Settings(
        espeak_binary=args.espeak_binary,
        piper_model=args.piper_model,
        coqui_model=args.coqui_model,
        coqui_language=args.coqui_language,
    )
    try:
        catalog = load_catalog(settings)
    except EngineSetupError as exc:
        print(f"sidecars.tts: {exc}", file=sys.stderr)
        return 1
    # uvicorn restores the previous SIGTERM handler after its graceful shutdown and re-raises
    # the signal; with the default handler the process would then die by signal (status -15)
    # although the stop completed. This handler turns that into a clean exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(create_app(catalog), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
