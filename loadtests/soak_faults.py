"""The soak's faults and their schedule: what real boxes do to a proxy over a long day.

- `kill`: SIGKILL a model server's process (its pid from the admin API's `GET /servers`), as
  the OOM killer or a crashed engine would. The supervisor notices the exit and restarts it;
  requests fall back down their chain or wait for the restart.
- `stop`: `POST /servers/NAME/stop` on a speech sidecar while requests target it, as an
  operator's `modelyard unload` would; the next request starts it again.
- `stall`: SIGSTOP a server (the soak's slow upstream) for `STALL_SECONDS`, then SIGCONT: alive,
  connected, silent, like a wedged engine. Its route's `first_byte_timeout` sends new requests
  down the chain; streams in flight resume when it does. A probe stream is sent into every
  stall, so that the timeout is exercised however the users' requests fall; its outcome is
  in the timeline, and a probe that fails counts against the soak.

The schedule cycles through `CYCLE` from a tenth of the run to 85% of it, one fault every
`max(45 s, run / 12)`: a 30-minute soak injects each fault about twice, a 5-minute one once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

import httpx

from loadtests.mix import MAX_TOKENS, SLOW_ROUTE
from loadtests.stack import Running

Kind = Literal["kill", "stop", "stall"]
SLOW_SERVER = "slow-upstream"  # loadtests/soak.py's slow fake, first in the soak-slow route
STALL_SECONDS = 10.0  # under the supervisor's 3 health probes 5 s apart: a stall, not a death

CYCLE: tuple[tuple[Kind, str], ...] = (
    ("kill", "tiny-qwen-a"),  # the agent route's primary; streams to it are cut mid-way
    ("stop", "tts-sidecar"),  # the tts route's only server
    ("stall", SLOW_SERVER),
    ("kill", "tiny-qwen-vl"),  # images and video: no other server takes them
    ("stop", "stt-sidecar"),  # transcriptions' first candidate
    ("kill", "tiny-embed"),  # the embed route's only server
)


@dataclass
class Fault:
    at: float  # seconds after locust started
    kind: Kind
    target: str
    done_at: float | None = None  # epoch seconds when it was injected
    resumed_at: float | None = None  # a stall's end
    result: str = ""
    probe: str = ""  # a stall's probe stream: what it got
    probe_ok: bool | None = None  # None: no probe (not a stall, or not finished)


@dataclass
class Schedule:
    faults: list[Fault]
    stalled: dict[str, tuple[int, float]] = field(default_factory=dict)  # target: (pid, until)

    def tick(self, stack: Running, elapsed: float) -> None:
        """Inject every fault that is due, and end every stall whose time is up."""
        for target, (pid, until) in list(self.stalled.items()):
            if time.monotonic() >= until:
                _signal(pid, signal.SIGCONT)
                del self.stalled[target]
                for fault in self.faults:
                    if fault.target == target and fault.kind == "stall" and not fault.resumed_at:
                        fault.resumed_at = time.time()
        for fault in self.faults:
            if fault.done_at is None and elapsed >= fault.at:
                fault.done_at = time.time()
                fault.result = self._inject(stack, fault)
                print(f"fault at {elapsed:.0f} s: {fault.kind} {fault.target}: {fault.result}")

    def _inject(self, stack: Running, fault: Fault) -> str:
        try:
            info = stack.server(fault.target)
        except httpx.HTTPError as exc:
            return f"admin API unreachable: {exc}"
        pid = info.get("pid")
        if fault.kind == "stop":
            answer = stack.admin(fault.target, "stop", timeout=60)
            return f"was {info.get('state')}; stop: HTTP {answer.status_code}"
        if not pid:
            return f"not running ({info.get('state')}): nothing to {fault.kind}"
        if fault.kind == "kill":
            return f"pid {pid} " + ("killed" if _signal(pid, signal.SIGKILL) else "already gone")
        if not _signal(pid, signal.SIGSTOP):
            return f"pid {pid} already gone"
        self.stalled[fault.target] = (pid, time.monotonic() + STALL_SECONDS)
        threading.Thread(target=_probe, args=(stack.proxy_url, fault), daemon=True).start()
        return f"pid {pid} stopped for {STALL_SECONDS:.0f} s"

    def release(self) -> None:
        """Never leave a process stopped: the stack's shutdown could not end it otherwise."""
        for pid, _ in self.stalled.values():
            _signal(pid, signal.SIGCONT)
        self.stalled.clear()


def _probe(proxy_url: str, fault: Fault) -> None:
    body = {
        "model": SLOW_ROUTE,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": MAX_TOKENS,
        "stream": True,
    }
    started = time.monotonic()
    try:
        with httpx.stream(
            "POST", proxy_url + "/v1/chat/completions", json=body, timeout=120
        ) as answer:
            done = b"data: [DONE]" in answer.read()
            took = time.monotonic() - started
            tried = answer.headers.get("x-modelyard-tried", "-")
            fault.probe = f"probe stream: HTTP {answer.status_code} in {took:.1f} s, {tried}"
            fault.probe_ok = answer.status_code == 200 and done
    except httpx.HTTPError as exc:
        fault.probe = f"probe stream failed: {type(exc).__name__}: {exc}"
        fault.probe_ok = False


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def schedule(seconds: float) -> Schedule:
    every = max(45.0, seconds / 12)
    first, last = max(20.0, seconds * 0.1), seconds * 0.85
    faults: list[Fault] = []
    at = first
    while at <= last:
        kind, target = CYCLE[len(faults) % len(CYCLE)]
        faults.append(Fault(at, kind, target))
        at += every
    return Schedule(faults)
