"""The proxy's language hint reaches the real TTS sidecar: the proxy's own app in-process, in
front of a real `python -m sidecars.tts` (Piper, espeak-ng) on a free port.

Issue: the proxy set `x-modelyard-language` on its answer only, never upstream, so the
sidecar fell back to reading the script: Marathi in Devanagari got the Hindi voice. The one
fake is the supervisor's client (which only says where the sidecar is): starting it through
the real supervisor is test_speech.py's business and costs a whole stack.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from modelyard_config import parse_config
from proxy.app import create_app
from tests.integration.test_tts_sidecar import Sidecar, _start, _stop

pytestmark = pytest.mark.integration

# What proxy.classify.language says is Marathi (its function words: मला, आहे, आणि, माझी);
# the sidecar alone, reading only the script, takes Devanagari for Hindi.
MARATHI = "मला उद्या पुण्याला जायचे आहे आणि माझी गाडी खराब झाली आहे."


class SidecarAdmin:
    """Stands in for supervisor.client.AdminClient: the sidecar is ready where it runs."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def ensure(self, name: str, max_wait: float | None = None) -> dict[str, Any]:
        return {"name": name, "state": "ready", "base_url": self.url}

    async def server(self, name: str) -> dict[str, Any]:
        return await self.ensure(name)


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    running = _start(tmp_path_factory.mktemp("tts-hint") / "sidecar.log")
    yield running
    _stop(running)


@pytest.fixture
async def proxy(sidecar: Sidecar) -> AsyncIterator[httpx.AsyncClient]:
    config = parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "servers": {
                "tts-sidecar": {
                    "model": "tts-1",
                    "served_name": "tts-1",
                    "capabilities": ["speech"],
                }
            },
            "routes": {"tts": ["tts-sidecar"]},
            "aliases": {"tts-1": "tts"},
            "classifier": {
                "default_intents": False,
                "default": "tts",
                "intents": {"tts": {"outputs": ["audio"], "cues": ["read aloud"]}},
            },
        }
    )
    app = create_app(config, SidecarAdmin(sidecar.url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://proxy", timeout=60
        ) as client:
            yield client


async def test_marathi_text_gets_the_marathi_voice_through_the_proxy(
    proxy: httpx.AsyncClient,
) -> None:
    body = {"model": "tts-1", "voice": "alloy", "input": MARATHI, "response_format": "wav"}
    response = await proxy.post("/v1/audio/speech", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-model"] == "tts-sidecar"
    assert response.headers["x-modelyard-language"] == "mr"
    assert response.headers["x-modelyard-tts-language"] == "mr"
    assert response.headers["x-modelyard-tts-voice"].startswith("mr")
    assert response.content[:4] == b"RIFF"
