"""`python -m sidecars.tts.bench`: seconds of compute per second of audio, per engine.

Runs the engines in-process, as the server does, on a ~20-word sentence: one unmeasured
warm-up (Piper's first run pays for onnxruntime's graph setup), then the median of 3.
espeak-ng's figure includes starting its process, which every request pays.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

from sidecars.tts.catalog import Catalog, Settings, load_catalog

SENTENCES: dict[str, str] = {
    "en": "The quick brown fox jumps over the lazy dog while a patient farmer watches "
    "quietly from the old wooden gate at sunset.",
    "hi": "आज सुबह मौसम बहुत सुहाना था इसलिए हम सब पार्क में टहलने गए और वहाँ "
    "बच्चों के साथ खेलते हुए बहुत समय बिताया।",
}
CASES: tuple[tuple[str, str], ...] = (("piper", "en"), ("espeak-ng", "en"), ("espeak-ng", "hi"))


@dataclass(frozen=True)
class Result:
    engine: str
    language: str
    voice: str
    audio_s: float
    compute_s: float

    @property
    def compute_per_audio_s(self) -> float:
        return self.compute_s / self.audio_s


def measure(catalog: Catalog, engine_name: str, language: str, runs: int = 3) -> Result | None:
    engine = catalog.engine(engine_name)
    if engine is None:
        return None
    voice = engine.voice_for(language, None)
    text = SENTENCES[language]
    engine.synthesize(text, voice, 1.0)
    timings, audio_s = [], 0.0
    for _ in range(runs):
        start = time.perf_counter()
        audio = engine.synthesize(text, voice, 1.0)
        timings.append(time.perf_counter() - start)
        audio_s = audio.seconds
    return Result(engine_name, language, voice.id, audio_s, statistics.median(timings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sidecars.tts.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    catalog = load_catalog(Settings())
    heading = ("engine", "lang", "voice", "audio s", "compute s", "per audio s")
    print("{:<10} {:<4} {:<18} {:>8} {:>10} {:>12}".format(*heading))
    for engine_name, language in CASES:
        result = measure(catalog, engine_name, language, args.runs)
        if result is None:
            print(f"{engine_name:<10} {language:<4} (engine not available)")
            continue
        print(
            f"{result.engine:<10} {result.language:<4} {result.voice:<18} {result.audio_s:>8.2f} "
            f"{result.compute_s:>10.3f} {result.compute_per_audio_s:>12.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
