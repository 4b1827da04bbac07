"""The engine (engine.Engine) as vLLM's HTTP API: health, sleep mode and load.

Sleep mode (`--enable-sleep-mode`, with VLLM_SERVER_DEV_MODE=1 to expose the routes), as
vLLM's docs/features/sleep_mode.md describes it (read for vLLM 0.32, the version
scripts/setup-engine.sh installs):
- `POST /sleep?level=1` copies the weights to host RAM and drops the KV cache;
  `POST /wake_up` maps them back. `GET /is_sleeping` says `{"is_sleeping": bool}` and no
  level: it stays true until every memory tag is awake again.
- `POST /sleep?level=2` drops the weights too (only buffers such as rope tables are kept on
  the CPU). A plain `/wake_up` then maps *empty* memory and the model answers gibberish
  (vllm-project/vllm#29341, #21336); the documented wake is `/wake_up?tags=weights`, then
  `POST /collective_rpc {"method": "reload_weights"}` (loads the checkpoint again, in place,
  with the load format the server started with), then `/wake_up?tags=kv_cache`.
- A second `/sleep` while asleep does nothing (vLLM's executor logs "Executor is already
  sleeping" and answers 200), so a level-1 sleeper cannot be sent to level 2 in place: it
  has to wake first (ManagedServer.sleep does that).
vLLM's default sleep mode *aborts* running requests, so the supervisor only ever puts idle
servers to sleep. Load comes from `/metrics` (`vllm:num_requests_running` +
`vllm:num_requests_waiting`); the success counter tells the supervisor a server was used
even when proxies skip asking it (they remember ready URLs). Servers that are not vLLM (the
speech sidecars) answer health only: load is None for them.
"""

from __future__ import annotations

from typing import Any

import httpx

# `as`: an explicit re-export for modules that still import the error from here (it lives
# in engine.py, beside the protocol whose calls raise it).
from supervisor.engine import EngineCallError, Load

# Reading the whole checkpoint again: 9.5 s for 15 GB from a cold disk (DESIGN.md), minutes
# for the largest models; no longer than a start is given by default (startup_timeout).
RELOAD_TIMEOUT_S = 600.0
RELOAD = {"method": "reload_weights"}


class VllmEngine:
    """Holds the one HTTP client (trust_env=False: probes must never go through a proxy)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def healthy(self, url: str) -> bool:
        try:
            response = await self._client.get(url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def sleep(self, base_url: str, level: int = 1) -> None:
        await self._post(f"{base_url}/sleep?level={level}", timeout=120)

    async def wake(self, base_url: str, level: int = 1) -> None:
        if level < 2:
            await self._post(f"{base_url}/wake_up", timeout=120)
            return
        # The weights' memory first, refilled from the checkpoint before the KV cache takes
        # its share: the order vLLM documents, and the lower peak.
        await self._post(f"{base_url}/wake_up?tags=weights", timeout=120)
        await self._post(f"{base_url}/collective_rpc", timeout=RELOAD_TIMEOUT_S, json=RELOAD)
        await self._post(f"{base_url}/wake_up?tags=kv_cache", timeout=120)

    async def is_sleeping(self, base_url: str) -> bool:
        try:
            response = await self._client.get(f"{base_url}/is_sleeping", timeout=5)
            return bool(response.json()["is_sleeping"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise EngineCallError(f"GET {base_url}/is_sleeping failed: {exc}") from exc

    async def load(self, base_url: str) -> Load | None:
        try:
            response = await self._client.get(f"{base_url}/metrics", timeout=5)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return parse_load(response.text)

    async def _post(
        self, url: str, timeout: float, json: dict[str, Any] | None = None
    ) -> httpx.Response:
        try:
            response = await self._client.post(url, timeout=timeout, json=json)
        except httpx.HTTPError as exc:
            raise EngineCallError(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            raise EngineCallError(
                f"{url.split('?')[0]} does not exist: the server runs without vLLM's sleep API "
                "(it needs --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1; vLLM's CPU build "
                "supports no sleep mode)"
            )
        if response.status_code != 200:
            raise EngineCallError(f"POST {url} answered {response.status_code}: {response.text}")
        return response


def parse_load(text: str) -> Load | None:
    """Sum the gauges and the success counter over every label set (model, engine)."""
    sums = {
        "vllm:num_requests_running": 0.0,
        "vllm:num_requests_waiting": 0.0,
        "vllm:request_success_total": 0.0,
    }
    seen = False
    for line in text.splitlines():
        if not line.startswith("vllm:"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in sums:
            try:
                sums[name] += float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                continue
            seen = True
    if not seen:
        return None
    in_flight = sums["vllm:num_requests_running"] + sums["vllm:num_requests_waiting"]
    return Load(in_flight=int(in_flight), served=int(sums["vllm:request_success_total"]))
