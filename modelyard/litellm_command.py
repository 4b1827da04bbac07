"""`modelyard import-litellm`: the converter (litellm_import) between a file and a file.

Its docstring is the command's --help, so it states the import's rules.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import NoReturn

import typer
import yaml
from rich.console import Console

from modelyard.atomic_file import write_whole
from modelyard.litellm_import import Imported, LiteLLMConfigError, convert, render
from modelyard_config import ConfigError
from modelyard_config.loading import parse_config, read_yaml

err = Console(stderr=True, soft_wrap=True)


def import_litellm(
    config: Path = typer.Argument(..., help="LiteLLM proxy config.yaml to import"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="servers.yaml to write (default: print it)"
    ),
    force: bool = typer.Option(False, "--force", help="overwrite OUTPUT if it exists"),
    remote_only: bool = typer.Option(
        False, "--remote-only", help="keep every model remote (your vLLM runs elsewhere)"
    ),
    resolve_env: bool = typer.Option(
        False,
        "--resolve-env",
        help="write the value of os.environ/NAME references other than keys (api_base, ...)",
    ),
) -> None:
    """Turn a LiteLLM proxy config.yaml into a servers.yaml; what cannot be carried over is
    listed (stderr, and the output's header), never dropped silently.

    Local or remote: a Hugging Face repo behind hosted_vllm/, vllm/ or huggingface/ becomes
    a local server that modelyard runs with vLLM (with no GPU budget: set one); any other
    model becomes a remote server called through LiteLLM (`remote:`), as does every model
    with --remote-only.

    Names: a model_name stays what clients send. It names the server, or an alias of it; a
    group, when several deployments share it; a route, when it has fallbacks (the chain
    LiteLLM's fallbacks would try, depth first). `model: auto` takes the first chat model's
    chain (routes.agent).

    Keys: api_key os.environ/NAME becomes remote.api_key_env NAME; a literal key is never
    written. Other os.environ/NAME values are noted, or written with --resolve-env.

    The rest: mode gives the capabilities (none given: chat); modes modelyard has no endpoint
    for, and wildcards, are not carried. max_retries + 1 is retry.attempts; timeout is
    retry.first_byte_timeout. The router's num_retries, timeout, allowed_fails and
    cooldown_time go to the proxy section, model_group_alias to aliases.
    """
    if output is not None and output.exists() and not force:
        _fail(f"{output} exists: pass --force to overwrite it")
    try:
        data = read_yaml(config.read_text(encoding="utf-8"), str(config))
    except OSError as exc:
        _fail(f"{config}: cannot read file: {exc.strerror}")
    except ConfigError as exc:  # not YAML, or an alias bomb
        _fail(*(f"{config}: {message}" for _, message in exc.problems))
    try:
        imported = convert(data, remote_only, dict(os.environ) if resolve_env else None)
    except LiteLLMConfigError as exc:
        _fail(*(f"{config}: {path}: {message}" for path, message in exc.problems))
    text = render(imported, str(config))
    try:
        parse_config(yaml.safe_load(text), "the imported servers.yaml")
    except ConfigError as exc:  # the import's own bug: say so rather than write it
        err.print(f"error: {exc}\n(a bug in modelyard import-litellm)", markup=False)
        raise typer.Exit(1) from exc
    _print_notes(imported)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        write_whole(output, text, replace=force)
    except FileExistsError:
        _fail(f"{output} exists: pass --force to overwrite it")
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror}")
    servers = imported.config["servers"].values()
    remote = sum("remote" in spec for spec in servers)
    err.print(
        f"modelyard: wrote {output} ({len(servers) - remote} local, {remote} remote servers); "
        f"check it with: modelyard check {output}",
        markup=False,
        highlight=False,
    )


def help_text() -> str:
    """The docstring as --help shows it well: typer keeps the line breaks of every
    paragraph after the first, so each paragraph is joined into one line."""
    paragraphs = inspect.cleandoc(import_litellm.__doc__ or "").split("\n\n")
    return "\n\n".join(paragraph.replace("\n", " ") for paragraph in paragraphs)


def _print_notes(imported: Imported) -> None:
    for kind, title in (("dropped", "not carried over"), ("review", "to review")):
        notes = imported.of_kind(kind)
        if notes:
            err.print(f"modelyard: {title} ({len(notes)}):", markup=False, highlight=False)
        for note in notes:
            err.print(f"  {note.path}: {note.message}", markup=False, highlight=False)


def _fail(*lines: str) -> NoReturn:
    for line in lines:
        err.print(f"error: {line}", markup=False, highlight=False)
    raise typer.Exit(2)
