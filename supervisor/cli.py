"""Operator commands that talk to a running supervisor: ps, load, unload.

Tables for people, `--json` for scripts. Each command is a plain function registered on the
`modelyard` app by modelyard.cli, so this module knows nothing of the proxy. The admin token,
when the supervisor has one, comes from `--config`'s supervisor.admin_token (or the variable
it names), else $MODELYARD_ADMIN_TOKEN; never from the command line, where `ps` would show it
to every user of the box."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from modelyard_config import load_config
from supervisor.client import AdminClient, admin_token
from supervisor.errors import StartFailedError, SupervisorError

DEFAULT_URL = "http://127.0.0.1:4100"
UrlOption = typer.Option(
    None,
    "--url",
    help="Supervisor admin URL [env MODELYARD_SUPERVISOR_URL, default http://127.0.0.1:4100]",
)
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    help="servers.yaml naming the supervisor: its URL and admin token "
    "[default: $MODELYARD_SUPERVISOR_URL and $MODELYARD_ADMIN_TOKEN]",
)
TOKEN_ENV = "MODELYARD_ADMIN_TOKEN"


def _client(url: str | None, config: Path | None) -> AdminClient:
    """--url, else the config's supervisor, else $MODELYARD_SUPERVISOR_URL, else the default."""
    if config is not None:
        cfg = load_config(config)
        return AdminClient(
            url or cfg.supervisor_url(), token=admin_token(cfg.supervisor, os.environ)
        )
    url = url or os.environ.get("MODELYARD_SUPERVISOR_URL", DEFAULT_URL)
    return AdminClient(url, token=os.environ.get(TOKEN_ENV) or None)


def _run(
    url: str | None, config: Path | None, call: Callable[[AdminClient], Awaitable[Any]]
) -> Any:
    async def go() -> Any:
        async with _client(url, config) as c:
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


def _console() -> Console:
    """Tables keep their columns when piped: rich would squeeze them into 80 columns."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB" if n else "-"


_STATE_STYLE = {"ready": "green", "starting": "yellow", "stopping": "yellow", "failed": "red"}


def _pid(server: dict[str, Any]) -> str:
    """The pid, and for a container server its short container id beside it."""
    pid = str(server["pid"] or "-")
    container = server.get("container_id")
    return f"{pid} ({container[:12]})" if container else pid


def _used(server: dict[str, Any]) -> int:
    """On a GPU box, what NVML measures of its processes; else their resident memory."""
    gpu = server.get("gpu_memory_bytes")
    return int(gpu if gpu is not None else (server["memory_bytes"] or 0))


def ps(
    url: str | None = UrlOption, config: Path | None = ConfigOption, as_json: bool = JsonOption
) -> None:
    """List servers: state, pid, port, tier, device, planned and used memory, load, idle, who
    waits and the predicted wait, the learned start time; then the scheduler's last decision."""
    servers = _run(url, config, lambda c: c.servers())
    if as_json:
        typer.echo(json.dumps(servers, indent=2))
        return
    schedule = _run(url, config, lambda c: c.schedule())
    table = Table(
        "NAME",
        "STATE",
        "PID",
        "PORT",
        "TIER",
        "DEVICE",
        "PLANNED",
        "USED",
        "IN-FLIGHT",
        "UPTIME",
        "IDLE",
        "WAITING",
        "START",
        box=None,
    )
    for s in servers:
        style = _STATE_STYLE.get(s["state"], "dim")
        state = s["state"] + (f" ({s['reason']})" if s.get("reason") else "")
        tier = s["tier"] + (" pinned" if s["pinned"] and s["tier"] != "hot" else "")
        table.add_row(
            s["name"],
            f"[{style}]{state}[/{style}]",
            _pid(s),
            str(s["port"] or "-"),
            tier,
            ",".join(s["devices"]) or "-",
            _mib(s["budget_bytes"] or 0),
            _mib(_used(s)),
            str(s["in_flight"]),
            _age(s["uptime_s"]),
            _age(s["idle_s"]) if s["pid"] else "-",
            _waiting(s),
            f"{s['costs']['start']['seconds']:.0f}s" if s.get("costs") else "-",
        )
    console = _console()
    console.print(table)
    console.print(f"scheduler ({schedule['policy']}): {schedule['decision']}", markup=False)


def _waiting(server: dict[str, Any]) -> str:
    """Requests waiting for it and the predicted wait of one more: `2 ~31s`, `- ~0s` when none
    wait, `~never` when it cannot fit."""
    count = server.get("waiting") or 0
    predicted = (server.get("predicted_wait") or {}).get("seconds", 0)
    wait = "~never" if predicted is None else f"~{predicted:.0f}s"
    return f"{count or '-'} {wait}"


def load(
    name: str,
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Start NAME (if needed) and wait until it is ready."""
    began = time.monotonic()
    info = _run(url, config, lambda c: c.ensure(name))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        typer.echo(
            f"{name} ready at {info['base_url']} (pid {info['pid']}, "
            f"{time.monotonic() - began:.1f} s)"
        )


def unload(
    name: str,
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Stop NAME and its whole process group."""
    _act(url, config, as_json, lambda c: c.stop(name))


def sleep(
    name: str,
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Put NAME to sleep (vLLM sleep mode): weights to host RAM, GPU memory freed."""
    _act(url, config, as_json, lambda c: c.action(name, "sleep"))


def wake(
    name: str,
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Wake NAME (or start it) and wait until it is ready."""
    _act(url, config, as_json, lambda c: c.action(name, "wake"))


def pin(
    name: str,
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Never evict NAME (until unpin)."""
    _act(url, config, as_json, lambda c: c.action(name, "pin"))


def unpin(
    name: str,
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
    as_json: bool = JsonOption,
) -> None:
    """Let NAME be evicted again when idle."""
    _act(url, config, as_json, lambda c: c.action(name, "unpin"))


def _act(
    url: str | None,
    config: Path | None,
    as_json: bool,
    call: Callable[[AdminClient], Awaitable[Any]],
) -> None:
    info = _run(url, config, call)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
    else:
        pinned = ", pinned" if info.get("pinned") else ""
        typer.echo(f"{info['name']} {info['state']}{pinned}")


def _bar(parts: list[tuple[int, str]], total: int, width: int = 40) -> str:
    out, filled = "", 0
    for amount, style in parts:
        cells = max(0, min(width - filled, round(amount / total * width))) if total else 0
        out += f"[{style}]" + "█" * cells + f"[/{style}]"
        filled += cells
    return out + "[dim]" + "·" * (width - filled) + "[/dim]"


def gpus(
    url: str | None = UrlOption, config: Path | None = ConfigOption, as_json: bool = JsonOption
) -> None:
    """Per device: total, planned (budgets placed) and used memory, and the ceiling."""
    report = _run(url, config, lambda c: c.devices())
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = _console()
    what = "GPU memory (NVML)" if report["kind"] == "gpu" else "host memory (psutil; no NVML)"
    console.print(f"accounting {what}; ceiling {report['limit']:.0%} of each device")
    for d in report["devices"]:
        used, planned, total = d["used"], d["planned"], d["total"]
        console.print(
            f"[bold]{d['key']}[/bold] {d['name']}  total {_mib(total)}  "
            f"ceiling {_mib(d['ceiling'])}",
            highlight=False,
        )
        console.print(
            f"  planned {_bar([(planned, 'cyan')], total)} {_mib(planned)}", highlight=False
        )
        console.print(f"  used    {_bar([(used, 'magenta')], total)} {_mib(used)}", highlight=False)
        console.print(f"  servers {', '.join(d['servers']) or '-'}", highlight=False)


def logs(
    name: str,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    url: str | None = UrlOption,
    config: Path | None = ConfigOption,
) -> None:
    """Print the end of NAME's log (stdout and stderr of its process)."""
    offset = -16384
    while True:
        chunk = _run(url, config, functools.partial(_logs_from, name, offset))
        typer.echo(chunk["text"], nl=False)
        offset = chunk["offset"]
        if not follow:
            return
        time.sleep(0.5)  # the poll period of `tail -f`


async def _logs_from(name: str, offset: int, client: AdminClient) -> dict[str, Any]:
    return await client.logs(name, offset)
