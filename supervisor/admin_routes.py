"""The admin API's routes; its errors are on the wire through admin_errors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from supervisor import redact, server_logs
from supervisor.fleet import Fleet


def build_router() -> APIRouter:
    router = APIRouter()

    def fleet(request: Request) -> Fleet:
        result: Fleet = request.app.state.fleet
        return result

    @router.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/servers")
    async def list_servers(request: Request) -> dict[str, Any]:
        return {"servers": fleet(request).describe_all()}

    @router.get("/servers/{name}")
    async def get_server(name: str, request: Request) -> dict[str, Any]:
        f = fleet(request)
        return f.describe(f.get(name))

    @router.post("/servers/{name}/ensure")
    async def ensure(
        name: str, request: Request, max_wait: float | None = Query(None, gt=0)
    ) -> dict[str, Any]:
        """Ready the server; `max_wait`: the seconds this caller waits for capacity, past
        which it gets a 503 capacity_unavailable whose retry_after is the predicted wait."""
        return await fleet(request).ensure(name, max_wait)

    @router.get("/waits")
    async def waits(
        request: Request, server: list[str] = Query(..., max_length=64)
    ) -> dict[str, Any]:
        """The predicted wait of each named server for a request arriving now."""
        return {"waits": fleet(request).waits(server)}

    @router.get("/schedule")
    async def schedule(request: Request) -> dict[str, Any]:
        """Who waits for which server, what drains, and the scheduler's last decision."""
        return fleet(request).schedule_report()

    @router.post("/servers/{name}/stop")
    async def stop(name: str, request: Request) -> dict[str, Any]:
        return await fleet(request).stop(name)

    @router.post("/servers/{name}/sleep")
    async def sleep(name: str, request: Request) -> dict[str, Any]:
        f = fleet(request)
        server = f.get(name)
        await server.sleep()
        return f.describe(server)

    @router.post("/servers/{name}/wake")
    async def wake(name: str, request: Request) -> dict[str, Any]:
        f = fleet(request)
        server = f.get(name)
        await server.ensure()
        return f.describe(server)

    @router.post("/servers/{name}/pin")
    async def pin(name: str, request: Request) -> dict[str, Any]:
        f = fleet(request)
        f.get(name).usage.pin()
        return f.describe(f.get(name))

    @router.post("/servers/{name}/unpin")
    async def unpin(name: str, request: Request) -> dict[str, Any]:
        f = fleet(request)
        f.get(name).usage.unpin()
        return f.describe(f.get(name))

    @router.get("/servers/{name}/logs")
    async def logs(name: str, request: Request, offset: int = Query(-16384)) -> dict[str, Any]:
        """Log bytes from `offset` (negative: that many from the end); poll with the returned
        offset to follow."""
        f = fleet(request)
        server = f.get(name)
        text, end = server_logs.read_from(server.log_path, offset)
        # The server may print its own arguments (vLLM does): mask the secret ones, as the
        # rest of this API does. Rendered afresh, so a stopped server's log is masked too.
        spec = server.spec or f.render(name, 0, ())
        secrets = redact.secret_values(spec.argv, spec.env)
        return {"text": redact.scrub(text, secrets), "offset": end}

    @router.get("/devices")
    async def devices(request: Request) -> dict[str, Any]:
        return fleet(request).devices_report()

    @router.get("/metrics")
    async def metrics(request: Request) -> PlainTextResponse:
        f = fleet(request)
        f.device_table()  # refresh the memory gauges
        return PlainTextResponse(
            generate_latest(f.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return router
