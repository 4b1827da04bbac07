"""`make faults`: the fault suite as a table, with the fallback success rate and the cost of
one fallback hop.

Starts its own `modelyard up` (CPU profile, real tiny-qwen-a and the real speech sidecars as
the fallbacks, primaries that fail on purpose: harness/faults.py), runs each fault
`--rounds` times, and prints fault x outcome x served-by. Faults before the first byte must
all be served by a fallback; a chain whose every candidate is down must be a 503 that names
each try; a kill after the first byte must end the stream with an error event and [DONE].

The hop is measured on a second, small stack of fake servers that answer at once: behind a
real model it drowns in the model's own time on this box (issue 5, first run). That stack's
circuit breaker never opens, since after three failures the primary would be skipped, not
tried, and the figure would measure a skip.

    python bench/faults.py [--rounds 3] [--pairs 200]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.faults import FAULT_ROUTES, FAULTY, kill_while_loading
from harness.stack import Stack, fake_server, running_stack, stack_config
from sidecars.stt.samples import SENTENCE, synthesize

Row = tuple[str, str, str, bool]  # fault, outcome, served by, as expected

HOP_SERVERS = {
    "hop-fake": fake_server("--chat-reply", "ok", gpu_memory_gb=0.1),
    "hop-flaky": fake_server("--fail-status", "500", gpu_memory_gb=0.1, retry={"attempts": 1}),
}
HOP_ROUTES = {"hop-direct": ["hop-fake"], "hop-one": ["hop-flaky", "hop-fake"]}
HOP_TRIED = "hop-flaky:5xx,hop-fake:ok"


def chat(stack: Stack, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    return httpx.post(stack.proxy_url + "/v1/chat/completions", json={**body, **extra}, timeout=600)


def transcribe(stack: Stack, model: str, wav: bytes) -> httpx.Response:
    files = {"file": ("speech.wav", wav, "audio/wav")}
    url = stack.proxy_url + "/v1/audio/transcriptions"
    return httpx.post(url, data={"model": model}, files=files, timeout=600)


def speak(stack: Stack, model: str) -> httpx.Response:
    body = {"model": model, "input": "The weekly report is ready.", "voice": "alloy"}
    return httpx.post(stack.proxy_url + "/v1/audio/speech", json=body, timeout=600)


def served(response: httpx.Response) -> Row:
    ok = response.status_code == 200
    outcome = f"{response.status_code} after {response.headers.get('x-modelyard-tried', '?')}"
    return "", outcome, response.headers.get("x-modelyard-model", "-") if ok else "-", ok


def transcribed(response: httpx.Response) -> Row:
    """Served, and the words came back: a 200 with an empty transcript is no fallback."""
    _, outcome, by, ok = served(response)
    return "", outcome, by, ok and "weekly report" in response.json().get("text", "").lower()


def spoken(response: httpx.Response) -> Row:
    _, outcome, by, ok = served(response)
    audio = response.headers.get("content-type", "").startswith("audio/")
    return (
        "",
        f"{outcome}, {len(response.content)} B",
        by,
        ok and audio and len(response.content) > 0,
    )


def refused(fault: str, response: httpx.Response, names: tuple[str, ...]) -> Row:
    named = all(name in response.text for name in names)
    outcome = f"{response.status_code} after {response.headers.get('x-modelyard-tried', '?')}"
    return fault, f"{outcome}, names each try {named}", "-", response.status_code == 503 and named


def kill_during_stream(stack: Stack) -> Row:
    body = {
        "model": "tiny-qwen-b",
        "messages": [{"role": "user", "content": "count"}],
        "max_tokens": 400,
        "stream": True,
        "ignore_eos": True,
    }
    lines: list[str] = []
    with httpx.stream(
        "POST", stack.proxy_url + "/v1/chat/completions", json=body, timeout=600
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and len(lines) == 0:
                os.kill(stack.server("tiny-qwen-b")["pid"], signal.SIGKILL)
            if line.startswith("data: "):
                lines.append(line[6:])
    error = any(line != "[DONE]" and "error" in json.loads(line) for line in lines)
    done = lines[-1:] == ["[DONE]"]
    stack.cli("unload", "tiny-qwen-b")
    outcome = f"{len(lines)} events, error event {error}, ends with [DONE] {done}"
    return "", outcome, "tiny-qwen-b (until killed)", error and done


def fault_rows(tmp: Path, rounds: int) -> tuple[list[Row], int]:
    """Every fault, and how many of the rows are faults before the first byte."""
    tmp.mkdir()
    config = stack_config(tmp / "state", extra_servers=dict(FAULTY))
    config["routes"].update(FAULT_ROUTES)
    config["servers"]["flaky"]["retry"] = {"attempts": 1}  # one failure per request
    wav = synthesize(SENTENCE, tmp / "speech.wav").read_bytes()
    with running_stack(tmp, config, check_exit=True) as stack:
        chat(stack, "tiny-qwen-a")  # start the fallback once, outside the figures
        before: list[tuple[str, Callable[[], Row]]] = [
            ("crash at start", lambda: served(chat(stack, "fault-crash"))),
            ("5xx from upstream", lambda: served(chat(stack, "fault-5xx"))),
            ("never healthy", lambda: served(chat(stack, "fault-hang"))),
            (
                "kill -9 while loading",
                lambda: served(kill_while_loading(stack, lambda: chat(stack, "fault-load-kill"))),
            ),
            (
                "stt primary crashes at start",
                lambda: transcribed(transcribe(stack, "fault-stt", wav)),
            ),
            ("tts primary crashes at start", lambda: spoken(speak(stack, "fault-tts"))),
        ]
        rows = [(name, *run()[1:]) for name, run in before for _ in range(rounds)]
        counted = len(rows)
        rows.append(refused("every candidate down", chat(stack, "fault-all"), ("flaky", "sleeper")))
        down = transcribe(stack, "fault-speech-down", wav)
        rows.append(
            refused("stt sidecar down as well as the primary", down, ("stt-crasher", "stt-dead"))
        )
        rows.append(("kill -9 during a stream", *kill_during_stream(stack)[1:]))
    return rows, counted


def hop_cost(tmp: Path, pairs: int) -> dict[str, list[float]]:
    """Seconds per request: direct, with one hop, and the failing fake's own 500 asked
    directly (what the hop cannot go below), interleaved in rotating order."""
    tmp.mkdir()
    config = stack_config(tmp / "state", extra_servers=HOP_SERVERS)
    config["routes"].update(HOP_ROUTES)
    config["proxy"]["cooldown"] = {"failures": 10**9}
    times: dict[str, list[float]] = {"hop-direct": [], "hop-one": [], "flaky": []}
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    with running_stack(tmp, config, check_exit=True) as stack, httpx.Client(timeout=60) as client:

        def send(model: str) -> None:
            response = client.post(url[model], json={**body, "model": model})
            tried = response.headers.get("x-modelyard-tried")
            if model == "flaky":
                assert response.status_code == 500, response.text
            elif response.status_code != 200 or (model == "hop-one" and tried != HOP_TRIED):
                raise AssertionError(f"{model}: {response.status_code} after {tried}")

        url = dict.fromkeys(HOP_ROUTES, stack.proxy_url + "/v1/chat/completions")
        for model in ("hop-direct", "hop-one") * 5:  # start both, fill the address cache
            send(model)
        url["flaky"] = f"http://127.0.0.1:{stack.server('hop-flaky')['port']}/v1/chat/completions"
        order = list(times)
        for _ in range(pairs):
            for model in order:
                start = time.perf_counter()
                send(model)
                times[model].append(time.perf_counter() - start)
            order.append(order.pop(0))  # rotate, so that no request always goes first
    return times


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def print_rows(rows: list[Row], counted: int) -> bool:
    fault_w = max(len(r[0]) for r in rows) + 2
    outcome_w = max(len(r[1]) for r in rows) + 2
    by_w = max(len(r[2]) for r in rows) + 2
    print(f"{'fault':<{fault_w}}{'outcome':<{outcome_w}}{'served by':<{by_w}}as expected")
    for fault, outcome, by, ok in rows:
        print(f"{fault:<{fault_w}}{outcome:<{outcome_w}}{by:<{by_w}}{'yes' if ok else 'NO'}")
    good = sum(r[3] for r in rows[:counted])
    print(
        f"\nfallback success, faults before the first byte: {good}/{counted} = {good / counted:.0%}"
    )
    return good == counted and all(r[3] for r in rows)


def print_hop(times: dict[str, list[float]]) -> None:
    direct, hop = times["hop-direct"], times["hop-one"]
    paired = [h - d for h, d in zip(hop, direct, strict=True)]
    alone = times["flaky"]
    print(
        f"\none fallback hop: hop-flaky answers 500, then hop-fake ({len(hop)} pairs, "
        "interleaved, ms)"
    )
    print(f"{'':<28}{'median':>8}{'p90':>8}")
    for label, values, sign in (
        ("direct (hop-direct)", direct, ""),
        ("one hop (hop-one)", hop, ""),
        ("the 500 alone, no proxy", alone, ""),
        ("hop: paired differences", paired, "+"),
    ):
        median, high = statistics.median(values) * 1000, p90(values) * 1000
        print(f"{label:<28}{median:>{sign}8.2f}{high:>{sign}8.2f}")
    extra = (statistics.median(hop) - statistics.median(direct)) * 1000
    print(f"{'hop: difference of medians':<28}{extra:>+8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-faults-") as tmp_name:
        tmp = Path(tmp_name)
        rows, counted = fault_rows(tmp / "faults", args.rounds)
        times = hop_cost(tmp / "hop", args.pairs)
    ok = print_rows(rows, counted)
    print_hop(times)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
