"""`make faults`: the fault suite as a table, with the fallback success rate and the cost of
one fallback hop.

Starts its own `modelyard up` (CPU profile, real tiny-qwen-a as the fallback, primaries that
fail on purpose: tests/integration/faults.py), runs each fault `--rounds` times, and prints
fault x outcome x served-by. Faults before the first byte must all be served by a fallback;
"every candidate down" must be a 503 that names each try; a kill after the first byte must
end the stream with an error event and [DONE].

    python bench/faults.py [--rounds 3]
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

from tests.integration.faults import FAULT_ROUTES, FAULTY, kill_while_loading
from tests.integration.stack import Stack, running_stack, stack_config

Row = tuple[str, str, str, bool]  # fault, outcome, served by, as expected


def chat(stack: Stack, model: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    return httpx.post(stack.proxy_url + "/v1/chat/completions", json={**body, **extra}, timeout=600)


def served(response: httpx.Response) -> Row:
    ok = response.status_code == 200
    outcome = f"{response.status_code} after {response.headers.get('x-modelyard-tried', '?')}"
    return "", outcome, response.headers.get("x-modelyard-model", "-") if ok else "-", ok


def kill_during_stream(stack: Stack) -> Row:
    body = {
        "model": "tiny-qwen-b",
        "messages": [{"role": "user", "content": "count"}],
        "max_tokens": 400,
        "stream": True,
        "ignore_eos": True,
    }
    lines = []
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-faults-") as tmp_name:
        tmp = Path(tmp_name)
        config = stack_config(tmp / "state", extra_servers=dict(FAULTY))
        config["routes"].update(FAULT_ROUTES)
        # one-hop figure: a primary that fails once, no retry on it
        config["servers"]["flaky"]["retry"] = {"attempts": 1}
        with running_stack(tmp, config, check_exit=True) as stack:
            chat(stack, "tiny-qwen-a")  # start the fallback once, outside the figures

            def load_kill() -> httpx.Response:
                return chat(stack, "fault-load-kill")

            before: list[tuple[str, Callable[[], Row]]] = [
                ("crash at start", lambda: served(chat(stack, "fault-crash"))),
                ("5xx from upstream", lambda: served(chat(stack, "fault-5xx"))),
                ("never healthy", lambda: served(chat(stack, "fault-hang"))),
                ("kill -9 while loading", lambda: served(kill_while_loading(stack, load_kill))),
            ]
            rows: list[Row] = []
            for name, run in before:
                for _ in range(args.rounds):
                    rows.append((name, *run()[1:]))
            served_before = sum(r[3] for r in rows)
            total_before = len(rows)
            down = chat(stack, "fault-all")
            named = all(s in down.text for s in ("flaky", "sleeper"))
            rows.append(
                (
                    "every candidate down",
                    f"{down.status_code}, names each try {named}",
                    "-",
                    down.status_code == 503 and named,
                )
            )
            rows.append(("kill -9 during a stream", *kill_during_stream(stack)[1:]))
            direct, hop = [], []
            for _ in range(20):
                start = time.perf_counter()
                chat(stack, "tiny-qwen-a")
                direct.append(time.perf_counter() - start)
                start = time.perf_counter()
                chat(stack, "fault-5xx")
                hop.append(time.perf_counter() - start)
    width = max(len(r[1]) for r in rows)
    print(f"{'fault':<26}{'outcome':<{width + 2}}{'served by':<28}as expected")
    for fault, outcome, by, ok in rows:
        print(f"{fault:<26}{outcome:<{width + 2}}{by:<28}{'yes' if ok else 'NO'}")
    print(
        f"\nfallback success, faults before the first byte: {served_before}/{total_before} "
        f"= {served_before / total_before:.0%}"
    )
    extra = (statistics.median(hop) - statistics.median(direct)) * 1000
    print(
        f"one fallback hop (a 500 from the primary, then tiny-qwen-a), median of 20: "
        f"{statistics.median(hop) * 1000:.1f} ms vs {statistics.median(direct) * 1000:.1f} ms "
        f"direct: +{extra:.1f} ms"
    )
    if served_before != total_before or not all(r[3] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
