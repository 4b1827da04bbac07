"""One real stack for the whole session: each vLLM start costs 20-60 s on this machine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness import docker_engine as docker_engine_
from harness.faults import BROKEN, FAULT_ROUTES, FAULTY
from harness.stack import Stack, fake_server, running_stack, stack_config


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    # "oracle" answers every chat with "tts": the classifier's triage stage needs an LLM that
    # names intents, which the tiny random-weight models cannot (fake_vllm's docstring).
    extra = {
        "broken": BROKEN,
        "oracle": fake_server("--chat-reply", "tts", gpu_memory_gb=0.1),
        # answers a chat with its last user turn, so a test sees the transcript that replaced
        # an audio part (the tiny models' gibberish would hide it)
        "echoer": fake_server("--echo", gpu_memory_gb=0.1),
        **FAULTY,
    }
    config = stack_config(tmp / "state", extra_servers=extra)
    config["routes"].update(FAULT_ROUTES)
    config["routes"]["heard"] = ["echoer"]
    config["proxy"]["degrade"]["audio_in"]["answer_with"] = "heard"
    # a window longer than the session: a test's three failures trip the breaker however
    # long vLLM takes to start in between
    config["proxy"]["cooldown"] = {"failures": 3, "window": 3600, "period": 3600}
    with running_stack(tmp, config, check_exit=True) as running:
        yield running


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[docker_engine_.Engine]:
    """A real Docker engine for the container tests, started once; skipped, saying why, where
    none can start (never silently)."""
    running = docker_engine_.from_env()
    if running is not None:
        yield running
        return
    try:
        engine = docker_engine_.start(tmp_path_factory.mktemp("docker"))
    except docker_engine_.EngineUnavailable as exc:
        print(f"\nSKIP container tests: no Docker engine: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    try:
        yield engine
    finally:
        docker_engine_.stop(engine)
