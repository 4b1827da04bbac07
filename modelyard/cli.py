"""The `modelyard` command: run the stack (up, supervisor, proxy) and operate it (ps, load, ...).

This package sits above `proxy` and `supervisor` and is the only place that wires both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

import typer
import uvloop
from rich.console import Console
from rich.markup import escape
from starlette.applications import Starlette

from modelyard import litellm_command, profile
from modelyard.stack import ListenError, StartupError, run_stack
from modelyard.workers import WorkerExitedError, Workers, announce_ready, worker_argv
from modelyard_config import Config, ConfigError, load_config
from modelyard_config.checks import warnings as config_warnings
from proxy import cli as proxy_cli
from supervisor import cli as admin
from supervisor import paths
from supervisor.budgets import never_fit_problems
from supervisor.client import admin_token
from supervisor.devices import open_reader
from supervisor.errors import SupervisorError
from tinymodels import catalog
from tinymodels.catalog import ModelBuildError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="modelyard: one OpenAI-compatible endpoint in front of your vLLM servers.",
)
for command in (
    admin.ps,
    admin.load,
    admin.unload,
    admin.sleep,
    admin.wake,
    admin.pin,
    admin.unpin,
    admin.gpus,
    admin.logs,
    proxy_cli.route,
):
    app.command()(command)
app.command("import-litellm", help=litellm_command.help_text())(litellm_command.import_litellm)

err = Console(stderr=True, soft_wrap=True)
ConfigOption = typer.Option(
    None,
    "--config",
    "-c",
    envvar="MODELYARD_CONFIG",  # modelyard's image sets it: /etc/modelyard/servers.yaml
    help="servers.yaml to use (default: servers.yaml with an NVIDIA GPU, profiles/cpu.yaml "
    "without)",
)


def _load(config_path: Path | None) -> tuple[Config, str]:
    choice = profile.choose(config_path)
    err.print(f"modelyard: config {choice.path} ({choice.reason})", highlight=False)
    config = load_config(choice.path)
    _print_warnings(str(choice.path), config)
    return config, str(choice.path)


def _print_warnings(source: str, config: Config) -> None:
    for key, message in config_warnings(config):
        line = escape(f"{source}: {key}: {message}")
        err.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


def _build_models(config: Config) -> None:
    models_dir = paths.models_dir(config.supervisor.models_dir)
    engine = paths.engine_python(config.supervisor.engine_python)
    for name in catalog.wanted_by(config, models_dir):
        if not catalog.is_built(models_dir, name):
            err.print(f"modelyard: building tiny model {name} into {models_dir}")
            catalog.build(models_dir, name, engine)


def _serve(
    apps: list[tuple[Starlette, str, int]],
    banner: str = "",
    workers: Workers | None = None,
    worker: bool = False,
) -> None:
    def ready() -> None:
        if worker:
            announce_ready()
        elif banner:
            err.print(banner, highlight=False, markup=False)

    async def go() -> None:
        try:
            await run_stack(apps, on_ready=ready, workers=workers, worker=worker)
        finally:
            for app_, _, _ in apps:  # belt and braces: the lifespan already stopped them
                fleet = getattr(app_.state, "fleet", None)
                if fleet is not None:
                    await fleet.shutdown()  # keeps what supervisor.keep_servers keeps

    try:
        # uvloop, as uvicorn.run would pick: the proxy's per-request cost roughly halves.
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(go())
    except (ListenError, StartupError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    except WorkerExitedError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc


def _workers(cfg: Config, source: str) -> Workers | None:
    """The proxy's other processes, when proxy.workers asks for more than this one."""
    if cfg.proxy.workers == 1:
        return None
    return Workers(worker_argv(str(Path(source).resolve())), cfg.proxy.workers - 1)


@app.command()
def up(config: Path | None = ConfigOption) -> None:
    """Run the supervisor and the proxy together. Ctrl-C stops everything."""
    from proxy.app import create_app as create_proxy
    from supervisor.api import create_app as create_supervisor

    cfg, source = _load(config)
    _build_models(cfg)
    sup, prx = cfg.supervisor, cfg.proxy
    base = f"http://{prx.host}:{prx.port}/v1"
    example = '{"model": "auto", "messages": [{"role": "user", "content": "hello"}]}'
    speech = '{"model": "tts-1", "voice": "alloy", "input": "hello"}'
    access = prx.access
    keyed = bool(access.keys or prx.api_keys or access.keys_file or os.environ.get(access.keys_env))
    key = "$MODELYARD_API_KEY" if keyed else "none"  # the CLI's own variable for its key
    auth = ' -H "authorization: Bearer $MODELYARD_API_KEY"' if keyed else ""
    workers = f" ({prx.workers} workers)" if prx.workers > 1 else ""
    page = f"  status page: http://{prx.host}:{prx.port}/ui"
    if not prx.ui.enabled:
        page = "  status page: off (proxy.ui.enabled)"
    elif admin_token(sup, os.environ) is None:
        page += f" (read-only: set ${sup.admin_token_env} to load and unload from it)"
    else:
        page += " (its actions and logs take the admin token)"
    banner = (
        f"modelyard: supervisor on http://{sup.host}:{sup.port}, proxy on {base}{workers}"
        + (" (API keys required)" if keyed else " (open: no API keys configured)")
        + "\n"
        f"  try:  curl {base}/chat/completions{auth} -H 'content-type: application/json' "
        f"-d '{example}'\n"
        f'  or:   OpenAI(base_url="{base}", api_key="{key}")\n'
        f"  speech: curl {base}/audio/transcriptions{auth} -F model=whisper-1 -F file=@note.wav\n"
        f"          curl {base}/audio/speech{auth} -H 'content-type: application/json' "
        f"-d '{speech}' -o hello.mp3\n"
        f"{page}\n"
        "  servers start on first use; `modelyard ps` shows them; Ctrl-C stops all."
    )
    apps = [
        (create_proxy(cfg), prx.host, prx.port),
        (create_supervisor(cfg, source), sup.host, sup.port),
    ]
    _serve(apps, banner, _workers(cfg, source))


@app.command("supervisor")
def run_supervisor(config: Path | None = ConfigOption) -> None:
    """Run only the supervisor (admin API); proxies elsewhere can share it."""
    from supervisor.api import create_app

    cfg, source = _load(config)
    _build_models(cfg)
    _serve([(create_app(cfg, source), cfg.supervisor.host, cfg.supervisor.port)])


@app.command("proxy")
def run_proxy(
    config: Path | None = ConfigOption,
    worker: bool = typer.Option(
        False, "--worker", hidden=True, help="run as one of proxy.workers' other processes"
    ),
) -> None:
    """Run only the proxy, against the supervisor named in proxy.supervisor_url."""
    from proxy.app import create_app

    if worker:  # started by the first proxy, which said which config it loaded
        assert config is not None
        cfg = load_config(config)
        _serve([(create_app(cfg), cfg.proxy.host, cfg.proxy.port)], worker=True)
        return
    cfg, source = _load(config)
    _serve([(create_app(cfg), cfg.proxy.host, cfg.proxy.port)], workers=_workers(cfg, source))


@app.command()
def models(config: Path | None = ConfigOption) -> None:
    """Build the tiny models the config serves (once; a no-op when they exist)."""
    _build_models(_load(config)[0])
    err.print("modelyard: models ready")


@app.command()
def check(config: Path = typer.Argument(..., help="servers.yaml to validate")) -> None:
    """Validate a servers.yaml, its budgets against this machine's memory, and what its
    remote servers need installed here."""
    from proxy.remote import extra_problems  # only `check` needs the proxy's side

    cfg = load_config(config)
    reader, why = open_reader(cfg.supervisor.simulate_gpus_gb)
    try:
        problems = never_fit_problems(cfg, reader.read())
    finally:
        reader.close()
    problems += extra_problems(cfg)
    if problems:
        raise ConfigError(str(config), problems)
    _print_warnings(str(config), cfg)
    err.print(f"{config}: ok ({why})", highlight=False)


@app.command()
def schema() -> None:
    """Print the JSON Schema of servers.yaml, for editors."""
    typer.echo(json.dumps(Config.model_json_schema(), indent=2))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # The proxy logs a line per request, and the format shows no caller, thread or process:
    # logging's documented switches for what is not shown save 3-5 us a line (issue 14).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    try:
        app()
    except (ConfigError, SupervisorError, ModelBuildError) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        sys.exit(2)
    except Exception as exc:  # the CLI's entry point: report, never a bare traceback
        err.print(f"[red]unexpected error:[/red] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
