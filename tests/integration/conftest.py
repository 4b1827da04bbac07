"""One real stack for the whole session: each vLLM start costs 20-60 s on this machine."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.integration.stack import Stack, fake_server, running_stack, stack_config

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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    # "oracle" answers every chat with "tts": the classifier's triage stage needs an LLM that
    # names intents, which the tiny random-weight models cannot (fake_vllm's docstring).
    extra = {"broken": BROKEN, "oracle": fake_server("--chat-reply", "tts", gpu_memory_gb=0.1)}
    config = stack_config(tmp / "state", extra_servers=extra)
    with running_stack(tmp, config, check_exit=True) as running:
        yield running
