"""SIGTERM on a real `modelyard up` with streams open: the listening socket closes, a request on
a connection already open gets 503 `draining` with Retry-After, the streams finish within
`proxy.drain_grace` (or end with an OpenAI error event when it runs out), and then the process
exits leaving no process, port or temp file behind.

The upstream is harness/fake_vllm.py with `--stream-delay`: a generation that lasts seconds on
cue, which the tiny models finish too fast to shut a proxy down in the middle of.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from harness.stack import (
    Stack,
    fake_server,
    group_pids,
    port_is_free,
    running_stack,
    stack_config,
    wait_for,
)

pytestmark = pytest.mark.integration

STREAMS = 20
TOKENS = 30  # 0.2 s apart: each stream runs ~6 s, well past the moment of SIGTERM
SLOW = fake_server("--stream-delay", "0.2", "--stream-tokens", str(TOKENS), gpu_memory_gb=0.1)
CHAT = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "go on"}]}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for `modelyard up` and its children, so a temp file left behind is seen."""
    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return tmp


def drain_stack(tmp_path: Path, grace: float) -> AbstractContextManager[Stack]:
    config = stack_config(tmp_path / "state", extra_servers={"slow": SLOW})
    config["proxy"]["drain_grace"] = grace
    return running_stack(tmp_path, config, check_exit=True)


async def open_streams(client: httpx.AsyncClient, url: str) -> list[asyncio.Task[bytes]]:
    """STREAMS streams, returned once every one has its first chunk."""
    first = asyncio.Queue[None]()

    async def one() -> bytes:
        async with client.stream("POST", url + "/v1/chat/completions", json=CHAT) as response:
            assert response.status_code == 200, await response.aread()
            body = b""
            async for chunk in response.aiter_raw():
                if not body:
                    first.put_nowait(None)
                body += chunk
            return body

    tasks = [asyncio.create_task(one()) for _ in range(STREAMS)]
    async with asyncio.timeout(60):
        for _ in range(STREAMS):
            await first.get()
    return tasks


def events(body: bytes) -> list[Any]:
    data = [line[6:] for line in body.decode().split("\n") if line.startswith("data: ")]
    assert data[-1] == "[DONE]", body[-300:]
    return [json.loads(d) for d in data[:-1]]


def tokens(body: bytes) -> int:
    return sum(1 for e in events(body) if "choices" in e)


def error_code(body: bytes) -> str | None:
    errors = [e["error"] for e in events(body) if "error" in e]
    assert len(errors) <= 1 and all(e["type"] == "server_error" for e in errors)
    return errors[0]["code"] if errors else None


def refused_new_connection(url: str) -> bool:
    try:
        httpx.get(url + "/v1/models", timeout=2)
    except httpx.ConnectError:
        return True
    return False


async def exited(stack: Stack, timeout: float = 120) -> int:
    try:
        return await asyncio.to_thread(stack.proc.wait, timeout)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"modelyard up still running:\n{stack.log()[-3000:]}") from exc


def assert_nothing_left(stack: Stack, pgid: int, tmp: Path) -> None:
    assert group_pids(pgid) == [], "the slow server outlived modelyard up"
    assert port_is_free(stack.config["proxy"]["port"])
    assert port_is_free(stack.config["supervisor"]["port"])
    assert list(tmp.iterdir()) == []
    state = Path(stack.config["supervisor"]["state_dir"])
    assert [p.name for p in state.rglob("*.tmp*")] == []


async def test_sigterm_lets_open_streams_finish_and_refuses_what_comes_after(
    tmp_path: Path, private_tmp: Path
) -> None:
    with drain_stack(tmp_path, grace=30) as stack:
        limits = httpx.Limits(max_connections=STREAMS)
        async with (
            httpx.AsyncClient(timeout=60, limits=limits) as streams_client,
            httpx.AsyncClient(timeout=10) as kept_alive,
        ):
            assert (await kept_alive.get(stack.proxy_url + "/v1/models")).status_code == 200
            streams = await open_streams(streams_client, stack.proxy_url)
            pgid = stack.server("slow")["pid"]
            stack.proc.send_signal(signal.SIGTERM)

            await asyncio.to_thread(
                wait_for, lambda: refused_new_connection(stack.proxy_url), 10, "socket closed"
            )
            try:
                late = await kept_alive.get(stack.proxy_url + "/v1/models")
            except httpx.TransportError:
                pass  # the connection closed already: refused as well
            else:
                assert late.status_code == 503
                assert late.headers["retry-after"] and late.headers["connection"] == "close"
                assert late.json()["error"]["code"] == "draining"
                assert late.json()["error"]["type"] == "server_error"

            bodies = await asyncio.gather(*streams)
        # the grace outlasts every stream: each one ran to its end
        assert [tokens(b) for b in bodies] == [TOKENS] * STREAMS
        assert [error_code(b) for b in bodies] == [None] * STREAMS
        assert await exited(stack) == 0
    assert_nothing_left(stack, pgid, private_tmp)


async def test_streams_that_outlive_the_grace_end_with_an_error_event(
    tmp_path: Path, private_tmp: Path
) -> None:
    with drain_stack(tmp_path, grace=1) as stack:
        limits = httpx.Limits(max_connections=STREAMS)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            streams = await open_streams(client, stack.proxy_url)
            sdk = openai.AsyncOpenAI(
                base_url=stack.proxy_url + "/v1", api_key="unused", max_retries=0
            )
            sdk_stream = await sdk.chat.completions.create(**CHAT)
            pgid = stack.server("slow")["pid"]
            stack.proc.send_signal(signal.SIGTERM)

            bodies = await asyncio.gather(*streams)
            with pytest.raises(openai.APIError) as raised:
                async for _ in sdk_stream:
                    pass
            await sdk.close()
        assert raised.value.code == "draining"
        assert [error_code(b) for b in bodies] == ["draining"] * STREAMS
        assert all(0 < tokens(b) < TOKENS for b in bodies)
        assert await exited(stack) == 0
    assert_nothing_left(stack, pgid, private_tmp)
