"""`make fuzz`: schemathesis against a real `modelyard up`, then the malformed-body corpus.

The stack is the CPU profile over a fake fleet (fuzz/fleet.py) on free ports: every upstream
is up and answers at once, so every 5xx counts as a proxy fault (none is excused as "upstream
down"); they are listed by status and error code with examples. Prints the inputs tried, the
5xx count, and the RSS of the `modelyard up` process before and after. Exit status 1 on any
5xx or an error not in its API's shape (Anthropic's on the Messages API, else OpenAI's).

    .venv/bin/python -m fuzz.run [--examples N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from fuzz.corpus import GOOD, Case, cases, slow_cases, well_shaped
from fuzz.fleet import fake_fleet
from harness.stack import Stack, fake_server, running_stack, stack_config

SCHEMATHESIS = str(Path(sys.executable).with_name("st"))
OPERATIONS = 19  # in proxy/openapi.py


@dataclass
class Tally:
    tried: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    faults: list[str] = field(default_factory=list)  # 5xx or badly shaped errors, described

    def count(self, what: str, path: str, status: int, body: bytes) -> None:
        self.tried += 1
        self.statuses[status] += 1
        if status >= 500:
            self.faults.append(f"{status} {_code(body)}: {what} -> {body[:300]!r}")
        elif status >= 400 and not well_shaped(path, body):
            self.faults.append(f"{status} misshapen: {what} -> {body[:300]!r}")

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def _code(body: bytes) -> str:
    """The error's code (OpenAI's shape) or type (Anthropic's)."""
    try:
        error = json.loads(body)["error"]
        return str(error.get("code") or error["type"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return "?"


def fuzz_stack(tmp: Path) -> dict[str, Any]:
    config = stack_config(tmp / "state")
    # a fixed answer, never empty: `--echo` answers a chat with no user text with "", which the
    # spoken-answer degradation rightly refuses with a 503 (49 of the first run's 5,694)
    answer = ("--chat-reply", "fake answer", "--audio")
    fake_fleet(config, lambda caps: fake_server(*answer, capabilities=caps))
    for name in config["servers"]:
        config["servers"][name]["gpu_memory_gb"] = 0.1
    return config


def rss_mb(stack: Stack) -> float:
    return psutil.Process(stack.proc.pid).memory_info().rss / 2**20


def warm(stack: Stack) -> None:
    """One good request per endpoint, so every fake is started and shown to answer 200."""
    base = stack.proxy_url
    chat = {"messages": [{"role": "user", "content": "hello"}]}
    answers = {
        "chat": httpx.post(base + "/v1/chat/completions", json=chat, timeout=60),
        "completions": httpx.post(base + "/v1/completions", json={"prompt": "x"}, timeout=60),
        "speech": httpx.post(base + "/v1/audio/speech", json={"input": "hi"}, timeout=60),
        "transcriptions": httpx.post(
            base + "/v1/audio/transcriptions",
            data={"model": "whisper-1"},
            files={"file": ("a.wav", b"RIFF0000WAVE", "audio/wav")},
            timeout=60,
        ),
    }
    for path, body in GOOD.items():
        answers[path] = httpx.post(base + path, json=body, timeout=60)
    for name, response in answers.items():
        assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"


def run_schemathesis(stack: Stack, examples: int, seed: int, har: Path, tally: Tally) -> None:
    argv = [
        SCHEMATHESIS,
        "run",
        stack.proxy_url + "/openapi.json",
        "--checks=not_a_server_error",
        f"--max-examples={examples}",
        f"--seed={seed}",
        "--workers=2",
        "--request-timeout=60",
        "--suppress-health-check=all",
        "--continue-on-failure",
        "--no-shrink",
        "--report=har",
        f"--report-har-path={har}",
    ]
    print("$", " ".join(argv), flush=True)
    subprocess.run(argv, check=False, cwd=har.parent)  # its cache stays out of the checkout
    for entry in json.loads(har.read_text())["log"]["entries"]:
        request, response = entry["request"], entry["response"]
        sent = (request.get("postData") or {}).get("text", "")[:200]
        body = ((response.get("content") or {}).get("text") or "").encode()
        what = f"{request['method']} {request['url']} {sent!r}"
        tally.count(what, urlsplit(request["url"]).path, response["status"], body)


def run_corpus(stack: Stack, corpus: list[Case], tally: Tally, timeout: float = 300) -> None:
    with httpx.Client(base_url=stack.proxy_url, timeout=timeout) as client:
        for case in corpus:
            headers = {"content-type": case.content_type} if case.content_type else {}
            started = time.monotonic()
            try:
                response = client.request(
                    case.method, case.path, content=case.body, headers=headers
                )
            except httpx.HTTPError as exc:
                tally.tried += 1
                tally.faults.append(f"no answer: {case.name}: {type(exc).__name__}: {exc}")
                continue
            took = time.monotonic() - started
            if took > 1:
                print(f"  slow: {case.name}: {response.status_code} in {took:.1f} s", flush=True)
            tally.count(case.name, case.path, response.status_code, response.content)


def report(name: str, tally: Tally) -> None:
    print(f"\n{name}: {tally.tried} inputs, {tally.server_errors} 5xx", flush=True)
    print("  statuses:", dict(sorted(tally.statuses.items())))
    kinds = Counter(f.split(":", 1)[0] for f in tally.faults)
    for kind, n in kinds.most_common():
        print(f"  {n} x {kind}")
        for fault in [f for f in tally.faults if f.startswith(kind)][:3]:
            print(f"      e.g. {fault[:400]}")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (a timeout, a CI step cancelled) as an exit that unwinds: the stack's `with`
    then stops `modelyard up` and its fakes instead of leaving them running."""
    sys.exit(128 + signum)


def main() -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--examples", type=int, default=700, help=f"per operation ({OPERATIONS} of them)"
    )
    parser.add_argument("--seed", type=int, default=20251)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-fuzz-") as name:
        tmp = Path(name)
        with running_stack(tmp, fuzz_stack(tmp)) as stack:
            warm(stack)
            before = rss_mb(stack)
            fuzzed, corpus = Tally(), Tally()
            run_schemathesis(stack, args.examples, args.seed, tmp / "fuzz.har", fuzzed)
            run_corpus(stack, cases() + slow_cases(), corpus)
            after = rss_mb(stack)
    report("schemathesis", fuzzed)
    report("corpus", corpus)
    total = fuzzed.tried + corpus.tried
    errors = fuzzed.server_errors + corpus.server_errors
    print(f"\ntotal: {total} inputs tried, {errors} 5xx")
    print(f"proxy+supervisor RSS: {before:.0f} MiB before, {after:.0f} MiB after")
    return 1 if fuzzed.faults or corpus.faults else 0


if __name__ == "__main__":
    sys.exit(main())
