"""The few vLLM server endpoints the supervisor calls beyond /health.

Sleep mode (`--enable-sleep-mode`, with VLLM_SERVER_DEV_MODE=1 to expose the routes):
`POST /sleep?level=1` moves weights to host RAM and frees the KV cache, `POST /wake_up` brings
them back, `GET /is_sleeping` says which. vLLM's default sleep mode *aborts* running requests,
so the supervisor only ever puts idle servers to sleep. Load comes from `/metrics`
(`vllm:num_requests_running` + `vllm:num_requests_waiting`); the success counter tells the
supervisor a server was used even when proxies skip asking it (they remember ready URLs).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from supervisor.errors import SupervisorError


class EngineCallError(SupervisorError):
    pass


@dataclass(frozen=True)
class Load:
    in_flight: int  # running + waiting
    served: int  # requests finished so far (any outcome): a change means it was used


async def _post(client: httpx.AsyncClient, url: str, timeout: float) -> httpx.Response:
    try:
        response = await client.post(url, timeout=timeout)
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


async def sleep(client: httpx.AsyncClient, base_url: str, level: int = 1) -> None:
    await _post(client, f"{base_url}/sleep?level={level}", timeout=120)


async def wake(client: httpx.AsyncClient, base_url: str) -> None:
    await _post(client, f"{base_url}/wake_up", timeout=120)


async def is_sleeping(client: httpx.AsyncClient, base_url: str) -> bool:
    try:
        response = await client.get(f"{base_url}/is_sleeping", timeout=5)
        return bool(response.json()["is_sleeping"])
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise EngineCallError(f"GET {base_url}/is_sleeping failed: {exc}") from exc


async def load(client: httpx.AsyncClient, base_url: str) -> Load | None:
    """None when the server publishes no vLLM metrics (a sidecar, a foreign server)."""
    try:
        response = await client.get(f"{base_url}/metrics", timeout=5)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return parse_load(response.text)


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
