"""`make load`: the mix (loadtests/mix.py) against a real stack on the CPU profile, headless
locust for a bounded time, then a summary.

What it measures: the proxy, the classifier and the supervisor under a realistic mix of
requests (every intent, five languages, images, video, audio, streams), their latency as a
client sees it, their memory and CPU per request, and which fallbacks were taken. Not a model's
throughput: the CPU profile's tiny random-weight vLLM servers share this machine's cores with
everything else, and their answers are short on purpose (mix.MAX_TOKENS).

Steps: build locust's venv (once), write the media, start the supervisor and the proxy on free
ports, ensure every server the mix reaches first (two at a time, so the run does not start with a
minute of cold starts; their start times are printed), run locust while sampling the processes
every second, stop everything, print the summary. Everything is written to
loadtests/results/<stamp>/ (locust's CSV files, requests.csv, samples.csv, summary.md, the
logs). Ctrl-C or SIGTERM stops locust (its CSV files are still written) and then the stack;
nothing is left running.

    python -m loadtests.run [--time 3m] [--users 6] [--spawn-rate 2] [--think 1.0] [--together]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from harness.stack import stack_config
from loadtests import locust_venv, request_log, sampler, summary
from loadtests.media import write_media
from loadtests.mix import MIXES, Media
from loadtests.stack import Running, running, warm

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "loadtests" / "results"


@dataclass(frozen=True)
class Settings:
    seconds: float
    users: int
    spawn_rate: float
    think: float
    mix: str
    together: bool
    results: Path


@dataclass
class Result:
    settings: Settings
    folder: Path
    rows: list[request_log.Row]
    samples: list[sampler.Sample]
    seconds: float  # locust's run, from the first user to the end
    warmed: dict[str, str]
    metrics_before: str = ""
    metrics_after: str = ""
    interrupted: bool = False


class Interrupted(Exception):
    """Ctrl-C or SIGTERM."""


def parse_duration(text: str) -> float:
    """'90', '90s', '3m', '1h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def add_common(parser: argparse.ArgumentParser, users: int) -> None:
    parser.add_argument("--users", type=int, default=int(os.environ.get("LOAD_USERS", users)))
    parser.add_argument(
        "--spawn-rate", type=float, default=float(os.environ.get("LOAD_SPAWN_RATE", "2"))
    )
    parser.add_argument(
        "--think",
        type=float,
        default=float(os.environ.get("LOAD_THINK", "1.0")),
        help="each user waits 0 to THINK seconds between requests",
    )
    parser.add_argument(
        "--together", action="store_true", help="one `modelyard up` instead of two processes"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)


def install_signals() -> None:
    """The first Ctrl-C or SIGTERM interrupts the run where it is; the cleanup that follows
    (stop locust, drain the proxy, stop every server) is bounded, and later signals are only
    noted so that it can finish: a second kill would leave servers behind."""
    seen: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        seen.append(signum)
        if len(seen) == 1:
            raise Interrupted(signal.Signals(signum).name)
        print("still cleaning up (servers are stopping); please wait", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def warm_names(stack: Running, media: Media, mix: str, extra: tuple[str, ...]) -> list[str]:
    """The first candidate of every entry, as the proxy itself routes it (POST /route)."""
    names = list(extra)
    rng = random.Random(0)
    for entry in MIXES[mix]:
        endpoint, payload = entry.build(media, rng).routed()
        url = f"{stack.proxy_url}/route?endpoint={endpoint}"
        decision = httpx.post(url, json=payload, timeout=30).json()
        for name in decision.get("candidates", [])[:1]:
            if name not in names:
                names.append(name)
    return names


def locust_command(settings: Settings, stack: Running, folder: Path) -> list[str]:
    return [
        str(locust_venv.ensure()),
        "-f",
        str(ROOT / "loadtests" / "locustfile.py"),
        "--headless",
        "--host",
        stack.proxy_url,
        "--users",
        str(settings.users),
        "--spawn-rate",
        str(settings.spawn_rate),
        "--run-time",
        f"{int(settings.seconds)}s",
        "--stop-timeout",
        "60",  # let requests in flight finish (a slow stream, a server restarting)
        "--csv",
        str(folder / "locust"),
        "--exit-code-on-error",
        "0",  # failures are judged from the request log, designed refusals apart
        "--loglevel",
        "WARNING",
        "--mix",
        settings.mix,
        "--media-dir",
        str(folder / "media"),
        "--request-log",
        str(folder / "requests.csv"),
        "--think",
        str(settings.think),
    ]


def scrape(url: str) -> str:
    try:
        return httpx.get(url + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return ""


def run(
    settings: Settings,
    configure: Callable[[dict[str, Any]], None] = lambda config: None,
    warm_extra: tuple[str, ...] = (),
    tick: Callable[[Running, float], None] = lambda stack, elapsed: None,
    finish: Callable[[], None] = lambda: None,
) -> Result:
    """One run. `configure` may change the CPU profile's config (the soak adds servers);
    `tick(stack, seconds since locust started)` is called twice a second while locust runs
    (the soak injects its faults from it), and `finish()` once locust has ended, before the
    stack stops, whatever happened."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = settings.results / f"{stamp}-{settings.mix}"
    folder.mkdir(parents=True)
    print(f"results: {folder}", flush=True)
    locust_venv.ensure()
    media = write_media(folder / "media")
    config = stack_config(folder / "state")
    configure(config)
    result = Result(settings, folder, [], [], 0.0, {})
    with running(folder, config, settings.together) as stack:
        names = warm_names(stack, media, settings.mix, warm_extra)
        print(f"warming {len(names)} servers: {', '.join(names)}", flush=True)
        result.warmed = warm(stack, names)
        for name, how in result.warmed.items():
            print(f"  {name}: {how}", flush=True)
        result.metrics_before = scrape(stack.proxy_url)
        print(
            f"locust: {settings.users} users, {settings.spawn_rate}/s, "
            f"{settings.seconds:.0f} s, mix {settings.mix}",
            flush=True,
        )
        try:
            result.seconds, result.interrupted = _drive(settings, stack, folder, tick)
        finally:
            finish()
        result.metrics_after = scrape(stack.proxy_url)
        print("stopping the stack", flush=True)
    log = folder / "requests.csv"
    result.rows = request_log.read(log) if log.exists() else []
    samples = folder / "samples.csv"
    result.samples = sampler.read(samples) if samples.exists() else []
    return result


def _drive(
    settings: Settings, stack: Running, folder: Path, tick: Callable[[Running, float], None]
) -> tuple[float, bool]:
    """Locust from start to end, sampled; on a signal, stop it so that it writes its files."""
    with (folder / "locust.log").open("wb") as log:
        locust = subprocess.Popen(
            locust_command(settings, stack, folder),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    started = time.monotonic()
    interrupted = False
    try:
        with sampler.sampling(folder / "samples.csv", stack.roles(), locust.pid):
            try:
                while locust.poll() is None:
                    tick(stack, time.monotonic() - started)
                    time.sleep(0.5)
            except Interrupted as signum:
                interrupted = True
                print(f"\n{signum}: stopping locust, then the stack", file=sys.stderr)
                locust.send_signal(signal.SIGINT)
                locust.wait(timeout=90)
    finally:
        if locust.poll() is None:
            locust.kill()
            locust.wait()
    return time.monotonic() - started, interrupted


def report(result: Result) -> str:
    rows, settings = result.rows, result.settings
    total = summary.totals(rows, result.seconds)
    entries = MIXES[settings.mix]
    roles = (
        "supervisor and proxy in one `modelyard up`"
        if settings.together
        else ("`modelyard supervisor` and `modelyard proxy` as two processes")
    )
    parts = [
        f"{settings.users} users (spawn {settings.spawn_rate}/s, think 0-{settings.think} s), "
        f"{result.seconds:.0f} s, mix `{settings.mix}`, {roles}"
        + (" (interrupted)" if result.interrupted else ""),
        "",
        summary.per_entry(rows, entries),
        "",
        f"{total['requests']:,.0f} requests in {total['seconds']:.0f} s = "
        f"{total['req_per_s']:.1f} req/s; failed {total['failed']:.0f} "
        f"({total['error_rate']:.2%}), designed 429/503 {total['designed']:.0f}, "
        f"stream error events {total['stream_errors']:.0f}; "
        f"host CPU {summary.host_cpu(result.samples):.0f}% busy on average",
        "",
        summary.processes(result.samples, len(rows)),
        "",
        summary.fallbacks(rows),
        "",
        summary.metric_fallbacks(result.metrics_before, result.metrics_after),
    ]
    if total["failed"] or total["stream_errors"]:
        parts += ["", summary.failures(rows)]
    warmed = [[name, how] for name, how in result.warmed.items()]
    parts += ["", summary.markdown(["server warmed before the run", "result"], warmed)]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--time", default=os.environ.get("LOAD_TIME", "3m"), help="90s, 3m (default), 1h"
    )
    add_common(parser, users=6)
    args = parser.parse_args()
    settings = Settings(
        parse_duration(args.time),
        args.users,
        args.spawn_rate,
        args.think,
        "load",
        args.together,
        args.results,
    )
    install_signals()
    try:
        result = run(settings)
    except Interrupted:
        print("interrupted before locust started; everything is stopped", file=sys.stderr)
        sys.exit(130)
    text = report(result)
    (result.folder / "summary.md").write_text(text + "\n")
    print("\n" + text)
    print(f"\nfiles: {result.folder}")


if __name__ == "__main__":
    main()
