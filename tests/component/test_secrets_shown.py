"""Secrets never reach a log banner, the admin API's describe or a failure report (hardening
issue), while the launcher still gets the real values."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from modelyard_config import parse_config
from supervisor.api import create_app
from supervisor.errors import StartFailedError
from supervisor.redact import MASK
from tests.component.supervisor_fakes import FakeGpus, rig, server, until

SECRETS = {"args": ["--api-key", "sk-live-123"], "env": {"HF_TOKEN": "hf_abcdef"}}


async def test_describe_and_the_log_banner_mask_secrets(tmp_path: Path) -> None:
    async with rig(tmp_path, {"a": server(3, **SECRETS)}, FakeGpus(10)) as r:
        await r.fleet.ensure("a")
        spec = r.launcher.handles[0].spec
        assert spec.argv[-2:] == ["--api-key", "sk-live-123"], "the launcher runs the real value"
        assert spec.env["HF_TOKEN"] == "hf_abcdef"
        shown = r.fleet.describe(r.fleet.get("a"))
        assert shown["command"][-2:] == ["--api-key", MASK]
        assert shown["env"]["HF_TOKEN"] == MASK
        text = json.dumps(r.fleet.describe_all()) + r.fleet.get("a").log_path.read_text()
        assert "sk-live-123" not in text and "hf_abcdef" not in text
        assert f"--api-key {MASK}" in r.fleet.get("a").log_path.read_text()


async def test_a_failure_report_masks_what_the_server_printed_of_its_secrets(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, {"a": server(3, **SECRETS)}, FakeGpus(10)) as r:
        r.engine.answering = False  # still loading when it dies
        start = asyncio.create_task(r.fleet.ensure("a"))
        await until(lambda: r.launcher.handles, "the start to spawn")
        # vLLM prints its non-default arguments at start, api_key among them
        r.launcher.handles[0].exit(1, "non-default args: {'api_key': 'sk-live-123'} hf_abcdef")
        with pytest.raises(StartFailedError) as failed:
            await start
        report = json.dumps(
            [str(failed.value), failed.value.log_tail, r.fleet.describe(r.fleet.get("a"))]
        )
        assert "sk-live-123" not in report and "hf_abcdef" not in report
        assert f"non-default args: {{'api_key': '{MASK}'}} {MASK}" in failed.value.log_tail


async def test_the_logs_endpoint_masks_what_the_server_printed_of_its_secrets(
    tmp_path: Path,
) -> None:
    """GET /servers/{name}/logs is the raw file, where vLLM prints its own arguments: masked
    while the server runs and after it stopped (the log outlives the process)."""
    config = parse_config(
        {"servers": {"a": {"model": "m", "command": ["serve"]}}, "routes": {"agent": ["a"]}}
    )
    app = create_app(config, "test.yaml", {})
    async with rig(tmp_path, {"a": server(3, **SECRETS)}, FakeGpus(10)) as r:
        app.state.fleet = r.fleet
        await r.fleet.ensure("a")
        with r.fleet.get("a").log_path.open("a") as log:
            log.write("non-default args: {'api_key': 'sk-live-123'} token hf_abcdef\n")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4100") as c:
            running = (await c.get("/servers/a/logs")).json()["text"]
            await r.fleet.stop("a")
            stopped = (await c.get("/servers/a/logs")).json()["text"]
    for text in (running, stopped):
        assert "non-default args" in text
        assert "sk-live-123" not in text and "hf_abcdef" not in text
        assert f"{{'api_key': '{MASK}'}} token {MASK}" in text
