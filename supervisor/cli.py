"""Operator commands that talk to a running supervisor: ps, load, unload.

Tables for people, `--json` for scripts. Each command is a plain function registered on the
`modelyard` app by modelyard.cli, so this module knows nothing of the proxy.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from supervisor.client import AdminClient
from supervisor.errors import StartFailedError, SupervisorError

DEFAULT_URL = "http://127.0.0.1:4100"
UrlOption = typer.Option(
    None,
    "--url",
    help="Supervisor admin URL [env MODELYARD_SUPERVISOR_URL, default http://127.0.0.1:4100]",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")


def _run(url: str | None, call: Callable[[AdminClient], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        async with AdminClient(url or os.environ.get("MODELYARD_SUPERVISOR_URL", DEFAULT_URL)) as c:
            return await call(c)

    try:
        return asyncio.run(go())
    except StartFailedError as exc:
        console = Console(stderr=True)
        console.print(f"[red]error:[/red] {exc}")
        for line in exc.log_tail[-10:]:
            console.print(f"  [dim]{line}[/dim]", highlight=False, markup=False)
        raise typer.Exit(1) from exc
    except SupervisorError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n else "-"


_STATE_STYLE = {"ready": "green", "starting": "yellow", "stopping": "yellow", "failed": "red"}


def ps(url: str | None = UrlOption, as_json: bool = JsonOption) -> None:
    """List servers: name, state, pid, port, uptime, memory."""
    servers = _run(url, lambda c: c.servers())
    if as_json:
        typer.echo(json.dumps(servers, indent=2))
        return
    table = Table("NAME", "STATE", "PID", "PORT", "UPTIME", "MEMORY", "MODEL", box=None)
    for s in servers:
        style = _STATE_STYLE.get(s["state"], "dim")
        state = s["state"] + (f" ({s['reason']})" if s.get("reason") else "")
        table.add_row(
            s["name"],
            f"[{style}]{state}[/{style}]",
            str(s["pid"] or "-"),
            str(s["port"] or "-"),
            _age(s["uptime_s"]),
            _mib(s["memory_bytes"]),
            s["model"],
        )
    Console().print(table)


def load(name: str, url: str | None = UrlOption, as_json: bool = JsonOption) -> None:
    """Start NAME (if needed) and wait until it is ready."""
    began = time.monotonic()
    info = _run(url, lambda c: c.ensure(name))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo(
            f"{name} ready at {info['base_url']} (pid {info['pid']}, "
            f"{time.monotonic() - began:.1f} s)"
        )


def unload(name: str, url: str | None = UrlOption, as_json: bool = JsonOption) -> None:
    """Stop NAME and its whole process group."""
    info = _run(url, lambda c: c.stop(name))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo(f"{name} {info['state']}")
