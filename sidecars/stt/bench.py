"""`python -m sidecars.stt.bench`: the real-time factor of each model on this CPU.

RTF = processing seconds / audio seconds (decode + transcribe, from the file's bytes), the
median of `--runs` runs after one warm-up, with the server's own settings (int8, beam 5,
two threads). Below 1 is faster than real time. Without `--audio` the speech is espeak-ng's
synthetic English (see `samples`), about 21 s long. No language hint is given, so base
pays for language detection as a default request does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sidecars.stt import audio
from sidecars.stt.catalog import resolve
from sidecars.stt.engine import DecodeOptions
from sidecars.stt.samples import PASSAGE, synthesize
from sidecars.stt.settings import Settings
from sidecars.stt.whisper import WhisperEngine


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sidecars.stt.bench", description=__doc__)
    parser.add_argument("--audio", type=Path, help="speech file (default: synthetic English)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", action="append", default=[], help="default: every model")
    parser.add_argument("--cpu-threads", type=int, default=2)
    args = parser.parse_args(argv)
    settings = Settings(only=tuple(args.model), cpu_threads=args.cpu_threads)
    with tempfile.TemporaryDirectory() as scratch:
        path = args.audio or synthesize(PASSAGE, Path(scratch) / "passage.wav")
        data = path.read_bytes()
    seconds = audio.duration_s(audio.decode(data))
    source_note = "" if args.audio else " (synthetic, espeak-ng)"
    print(f"audio: {path.name}, {seconds:.1f} s{source_note}; {args.runs} runs, median")
    print(f"{'model':<10}{'load s':>8}{'process s':>11}{'RTF':>7}  transcript")
    for source in resolve(settings):
        started = time.perf_counter()
        engine = WhisperEngine.load(
            source.name,
            source.path,
            cpu_threads=settings.cpu_threads,
            compute_type=settings.compute_type,
            beam_size=settings.beam_size,
        )
        load_s = time.perf_counter() - started
        options = DecodeOptions()
        engine.run(audio.decode(data), options)  # warm-up: first call allocates buffers
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            text = engine.run(audio.decode(data), options).text
            timings.append(time.perf_counter() - started)
        median = statistics.median(timings)
        print(f"{source.name:<10}{load_s:>8.2f}{median:>11.2f}{median / seconds:>7.3f}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
