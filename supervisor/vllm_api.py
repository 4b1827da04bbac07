"""The engine (engine.Engine) as vLLM's HTTP API: health, sleep mode and load.

Sleep mode (`--enable-sleep-mode`, with VLLM_SERVER_DEV_MODE=1 to expose the routes):
`POST /sleep?level=1` moves weights to host RAM and frees the KV cache, `POST /wake_up` brings
them back, `GET /is_sleeping` says which. vLLM's default sleep mode *aborts* running requests,
so the supervisor only ever puts idle servers to sleep. Load comes from `/metrics`
(`vllm:num_requests_running` + `vllm:num_requests_waiting`); the success counter tells the
supervisor a server was used even when proxies skip asking it (they remember ready URLs).
Servers that are not vLLM (the speech sidecars) answer health only: load is None for them.
"""

from __future__ import annotations

import httpx

# `as`: an explicit re-export for modules that still import the error from here (it lives
# in engine.py, beside the protocol whose calls raise it).
from supervisor.engine import EngineCallError, Load


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

    async def wake(self, base_url: str) -> None:
        await self._post(f"{base_url}/wake_up", timeout=120)

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

    async def _post(self, url: str, timeout: float) -> httpx.Response:
        try:
            response = await self._client.post(url, timeout=timeout)
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
