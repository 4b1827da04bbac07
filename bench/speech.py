"""`make bench-speech`: what speech costs on this CPU, in the sidecar's own process and end to
end through the proxy, so that the proxy's and HTTP's share can be read off one run.

Starts its own `modelyard up` (CPU profile: stt-sidecar serves Whisper base as `whisper-1`;
this bench adds `stt-tiny`, the same sidecar on tiny.en, and uses tts-sidecar as `tts-1`).
Each figure is the median of `--runs` after one unmeasured warm-up, the three ways of asking
interleaved in rotating order so that the box's noise falls on all of them alike:
- STT real-time factor (processing s / audio s) on `samples.PASSAGE` (espeak-ng speech):
  the engine in this process (as `python -m sidecars.stt.bench`), the sidecar over HTTP, and
  the proxy, both through the official `openai` SDK;
- TTS seconds of compute per second of audio per engine, in this process (as
  `python -m sidecars.tts.bench`), and the latency of one `audio.speech.create` (wav), English
  and Hindi, from the sidecar and through the proxy.

    python bench/speech.py [--runs 5]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openai import OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.stack import Stack, running_stack, stack_config
from sidecars.stt import audio
from sidecars.stt.catalog import resolve
from sidecars.stt.engine import DecodeOptions
from sidecars.stt.samples import PASSAGE, synthesize
from sidecars.stt.settings import Settings as SttSettings
from sidecars.stt.whisper import WhisperEngine
from sidecars.tts.bench import CASES, SENTENCES, measure
from sidecars.tts.catalog import Settings as TtsSettings
from sidecars.tts.catalog import load_catalog

# (Whisper model, the `model` the proxy is asked for, the server that answers)
STT_MODELS = (("tiny.en", "stt-tiny", "stt-tiny"), ("base", "whisper-1", "stt-sidecar"))


def timed(ways: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Median seconds of each way, after one warm-up each; the order rotates every round."""
    for way in ways.values():
        way()
    times: dict[str, list[float]] = {name: [] for name in ways}
    order = list(ways)
    for _ in range(runs):
        for name in order:
            start = time.perf_counter()
            ways[name]()
            times[name].append(time.perf_counter() - start)
        order.append(order.pop(0))
    return {name: statistics.median(values) for name, values in times.items()}


def sidecar_client(stack: Stack, server: str) -> OpenAI:
    port = stack.server(server)["port"]
    return OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)


def stt_ways(stack: Stack, model: str, asked: str, server: str, wav: bytes) -> dict[str, Any]:
    settings = SttSettings(only=(model,))  # the sidecar's own defaults: int8, beam 5, 2 threads
    source = resolve(settings)[0]
    engine = WhisperEngine.load(
        source.name,
        source.path,
        cpu_threads=settings.cpu_threads,
        compute_type=settings.compute_type,
        beam_size=settings.beam_size,
    )
    proxy, sidecar = stack.openai(), sidecar_client(stack, server)
    upload = ("passage.wav", wav, "audio/wav")
    return {
        "in process": lambda: engine.run(audio.decode(wav), DecodeOptions()),
        "sidecar HTTP": lambda: sidecar.audio.transcriptions.create(model=model, file=upload),
        "proxy": lambda: proxy.audio.transcriptions.create(model=asked, file=upload),
    }


def bench_stt(stack: Stack, tmp: Path, runs: int) -> None:
    wav = synthesize(PASSAGE, tmp / "passage.wav").read_bytes()
    seconds = audio.duration_s(audio.decode(wav))
    print(f"STT real-time factor, {seconds:.1f} s of espeak-ng English, median of {runs}")
    print(f"{'model':<10}{'asked as':<12}{'in process':>12}{'sidecar HTTP':>14}{'proxy':>8}")
    for model, asked, server in STT_MODELS:
        stack.openai().audio.transcriptions.create(model=asked, file=("a.wav", wav))  # start it
        medians = timed(stt_ways(stack, model, asked, server, wav), runs)
        rtf = [medians[way] / seconds for way in ("in process", "sidecar HTTP", "proxy")]
        print(f"{model:<10}{asked:<12}{rtf[0]:>12.3f}{rtf[1]:>14.3f}{rtf[2]:>8.3f}")
    text = stack.openai().audio.transcriptions.create(model="whisper-1", file=("a.wav", wav))
    print(f"whisper-1 heard: {text.text}")


def bench_tts_engines(runs: int) -> None:
    catalog = load_catalog(TtsSettings())
    print(f"\nTTS compute per second of audio, in process, median of {runs}")
    print(
        f"{'engine':<11}{'lang':<6}{'voice':<19}{'audio s':>8}{'compute s':>11}{'per audio s':>13}"
    )
    for engine, language in CASES:
        result = measure(catalog, engine, language, runs)
        if result is None:
            print(f"{engine:<11}{language:<6}not installed")
            continue
        print(
            f"{engine:<11}{language:<6}{result.voice:<19}{result.audio_s:>8.2f}"
            f"{result.compute_s:>11.3f}{result.compute_per_audio_s:>13.3f}"
        )
    if catalog.engine("coqui") is None:
        reason = next(u.reason for u in catalog.unavailable if u.name == "coqui")
        print(f"{'coqui':<11}{'en':<6}not installed: {reason}")
    else:
        result = measure(catalog, "coqui", "en", runs)
        assert result is not None
        print(
            f"{'coqui':<11}{'en':<6}{result.voice:<19}{result.audio_s:>8.2f}"
            f"{result.compute_s:>11.3f}{result.compute_per_audio_s:>13.3f}"
        )


def bench_tts_requests(stack: Stack, runs: int) -> None:
    print(f"\nTTS request latency, `audio.speech.create` tts-1 wav, median of {runs}")
    print(f"{'lang':<6}{'engine':<11}{'audio s':>8}{'sidecar HTTP s':>16}{'proxy s':>9}")
    for language in ("en", "hi"):
        engine, seconds, medians = speech_request(stack, SENTENCES[language], runs)
        print(
            f"{language:<6}{engine:<11}{seconds:>8.2f}{medians['sidecar']:>16.3f}"
            f"{medians['proxy']:>9.3f}"
        )


def speech_request(stack: Stack, text: str, runs: int) -> tuple[str, float, dict[str, float]]:
    """The engine that spoke `text`, the audio's length, and the median request times."""
    ask: dict[str, Any] = {"model": "tts-1", "voice": "alloy", "response_format": "wav"}
    proxy = stack.openai()
    raw = proxy.audio.speech.with_raw_response.create(input=text, **ask)  # starts the sidecar
    sidecar = sidecar_client(stack, "tts-sidecar")
    with wave.open(io.BytesIO(raw.content)) as clip:
        seconds = clip.getnframes() / clip.getframerate()
    ways = {
        "sidecar": lambda: sidecar.audio.speech.create(input=text, **ask).read(),
        "proxy": lambda: proxy.audio.speech.create(input=text, **ask).read(),
    }
    return raw.headers.get("x-modelyard-tts-engine", "?"), seconds, timed(ways, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-speech-") as tmp_name:
        tmp = Path(tmp_name)
        config = stack_config(tmp / "state")
        tiny = {**config["servers"]["stt-sidecar"], "model": "tiny.en", "served_name": "tiny.en"}
        config["servers"]["stt-tiny"] = tiny
        with running_stack(tmp, config, check_exit=True) as stack:
            bench_stt(stack, tmp, args.runs)
            bench_tts_engines(args.runs)
            bench_tts_requests(stack, args.runs)


if __name__ == "__main__":
    main()
