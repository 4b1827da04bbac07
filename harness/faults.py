"""Servers that fail on purpose, shared by the fault tests and `make faults` (bench/faults.py)."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

import httpx

from harness.stack import Stack, fake_server, wait_for

# A server whose command exits at once, as a model with missing weights would.
BROKEN = {
    "model": "missing-weights",
    "command": [
        sys.executable,
        "-c",
        "import sys; print('boom: weights not found', flush=True); sys.exit(3)",
    ],
    "startup_timeout": 60,
}


# The fault suite of each API beyond chat (test_api_faults.py): chat, the Responses API,
# Anthropic's Messages and embeddings, each with a primary of its own that answers HTTP 500 (so
# that no breaker it trips is another test's), in front of fakes. Fakes as fallbacks too: the
# fallback path does not depend on what answers, and a fake answers in milliseconds, and
# streams for as long as a test needs it to (`--stream-delay`), which tiny vLLM does not on cue.
GENERATES = ["text", "tools", "responses", "messages"]
FAILS = ("--fail-status", "500")
LONG = ("--stream-delay", "0.2", "--stream-tokens", "50")  # 10 s: killed after its first event


def _fake(*flags: str, capabilities: list[str]) -> dict[str, Any]:
    return fake_server(*flags, gpu_memory_gb=0.1, capabilities=capabilities)


API_SERVERS = {
    "api-down-chat": _fake(*FAILS, capabilities=GENERATES),
    "api-down-responses": _fake(*FAILS, capabilities=GENERATES),
    "api-down-messages": _fake(*FAILS, capabilities=GENERATES),
    "api-down-embed": _fake(*FAILS, capabilities=["embedding"]),
    "api-answerer": _fake("--echo", "--stream-delay", "0", capabilities=GENERATES),
    "api-embedder": _fake(capabilities=["embedding"]),
    # one per API: each test kills its own
    "api-long-chat": _fake(*LONG, capabilities=GENERATES),
    "api-long-responses": _fake(*LONG, capabilities=GENERATES),
    "api-long-messages": _fake(*LONG, capabilities=GENERATES),
    # keeps the Responses API responses it made, until the test unloads it
    "api-holder": _fake("--echo", capabilities=["text", "responses"]),
    # dies as it starts, as a model with missing weights would: nothing is ever answered
    "api-crasher": {**BROKEN, "capabilities": GENERATES},
}
API_ROUTES = {
    "api-chat": ["api-down-chat", "api-answerer"],
    "api-responses": ["api-down-responses", "api-answerer"],
    "api-messages": ["api-down-messages", "api-answerer"],
    "api-embed": ["api-down-embed", "api-embedder"],
    "api-crash": ["api-crasher", "api-answerer"],
}

# Primaries that fail in each way the fault suite covers (test_faults.py), each in front of
# the real tiny-qwen-a. Servers of their own, so that their circuit breakers trip nothing else.
FAULTY = {
    "crasher": {**BROKEN},
    "flaky": fake_server("--fail-status", "500", gpu_memory_gb=0.1),
    "sleeper": fake_server("--ready-after", "3600", gpu_memory_gb=0.1, startup_timeout=4),
    "slowstart": fake_server("--ready-after", "120", gpu_memory_gb=0.1, startup_timeout=300),
    # speech primaries that crash at start, standing for a broken vLLM Whisper or TTS model
    "stt-crasher": {**BROKEN, "capabilities": ["transcription"]},
    "tts-crasher": {**BROKEN, "capabilities": ["speech"]},
    "video-crasher": {**BROKEN, "capabilities": ["text", "video"]},
    # the real STT sidecar, down: asked for a model it does not have, it exits at start
    "stt-dead": {
        "model": "no-such-whisper",
        "command": ["{python}", "-m", "sidecars.stt", "--port", "{port}", "--model", "{model}"],
        "startup_timeout": 60,
        "capabilities": ["transcription"],
    },
    **API_SERVERS,
}
FAULT_ROUTES = {
    "fault-crash": ["crasher", "tiny-qwen-a"],
    "fault-5xx": ["flaky", "tiny-qwen-a"],
    "fault-hang": ["sleeper", "tiny-qwen-a"],
    "fault-load-kill": ["slowstart", "tiny-qwen-a"],
    "fault-all": ["flaky", "sleeper"],
    "fault-stt": ["stt-crasher", "stt-sidecar"],
    "fault-tts": ["tts-crasher", "tts-sidecar"],
    "fault-speech-down": ["stt-crasher", "stt-dead"],
    "fault-sidecar-down": ["stt-dead", "tiny-whisper"],
    "fault-video": ["video-crasher"],
    **API_ROUTES,
}


def kill_while_loading(stack: Stack, send: Callable[[], httpx.Response]) -> httpx.Response:
    """Send a request whose primary is `slowstart`, kill -9 it while it loads, and return
    the answer the client got."""
    answer: dict[str, httpx.Response] = {}
    thread = threading.Thread(target=lambda: answer.update(r=send()))
    thread.start()
    info = wait_for(
        lambda: (s := stack.server("slowstart"))["state"] == "starting" and s["pid"] and s,
        timeout=60,
        what="slowstart to be loading",
    )
    os.kill(info["pid"], signal.SIGKILL)
    thread.join(timeout=600)
    return answer["r"]
