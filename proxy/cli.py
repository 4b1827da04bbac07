"""`modelyard route`: ask a running proxy how it would route a request, without sending it.

It builds the same OpenAI body a client would (text, image and video URLs, an audio file as
`input_audio`), posts it to `POST /route`, and prints the decision. Registered on the
`modelyard` app by modelyard.cli, like the supervisor's commands.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from modelyard_config.endpoints import (
    ANTHROPIC,
    AUDIO_UPLOADS,
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    RERANK,
    RERANK_V2,
    RESPONSES,
    SCORE,
    SPEECH,
)

DEFAULT_URL = "http://127.0.0.1:4000"
_AUDIO_FORMATS = {".wav": "wav", ".mp3": "mp3", ".ogg": "ogg", ".webm": "webm", ".m4a": "m4a"}


def route(
    text: str = typer.Argument(
        "", help="The prompt (`input` for speech and embeddings, the query for rerank)."
    ),
    image: list[str] = typer.Option([], "--image", help="Image URL; repeatable."),
    audio: Path | None = typer.Option(None, "--audio", help="Audio file, sent as input_audio."),
    video: list[str] = typer.Option([], "--video", help="Video URL; repeatable."),
    document: list[str] = typer.Option(
        [], "--document", help="A document to rank against the query (rerank, score); repeatable."
    ),
    endpoint: str = typer.Option(CHAT, "--endpoint", help="Which endpoint the body is for."),
    model: str = typer.Option("auto", "--model", help="The request's `model` field."),
    url: str | None = typer.Option(
        None, "--url", help=f"Proxy URL [env MODELYARD_PROXY_URL, default {DEFAULT_URL}]"
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show how the proxy would route a request: intent, language, model, candidates, why."""
    body = build_body(text, image, audio, video, endpoint, model, document)
    base = (url or os.environ.get("MODELYARD_PROXY_URL", DEFAULT_URL)).rstrip("/")
    headers = {}
    if key := os.environ.get("MODELYARD_API_KEY"):
        headers["authorization"] = f"Bearer {key}"
    try:
        response = httpx.post(
            f"{base}/route", params={"endpoint": endpoint}, json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the proxy at {base}: {exc}. Is `modelyard up` running?")
    try:
        answer = response.json()
    except ValueError:
        _fail(f"the proxy answered HTTP {response.status_code} with a body that is not JSON")
    if response.status_code != 200:
        message = answer.get("error", {}).get("message", response.text)
        _fail(f"HTTP {response.status_code}: {message}")
    if as_json:
        typer.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    _print(answer)


def build_body(
    text: str,
    images: list[str],
    audio: Path | None,
    videos: list[str],
    endpoint: str,
    model: str,
    documents: list[str] | None = None,
) -> dict[str, Any]:
    """The body a client would send to `endpoint`, in that API's own shape."""
    if endpoint == EMBEDDINGS:
        return {"model": model, "input": text}
    if endpoint in (RERANK, RERANK_V2):
        return {"model": model, "query": text, "documents": documents or [text]}
    if endpoint == SCORE:
        return {"model": model, "text_1": text, "text_2": documents or [text]}
    if endpoint in AUDIO_UPLOADS:
        # multipart form fields, as JSON: the file's name stands in for the file
        return {"model": model, "prompt": text, "file": audio.name if audio else "audio.wav"}
    if endpoint == SPEECH:
        return {"model": model, "input": text, "voice": "alloy"}
    if endpoint == COMPLETIONS:
        return {"model": model, "prompt": text}
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": u}} for u in images]
    parts += [{"type": "video_url", "video_url": {"url": u}} for u in videos]
    if audio is not None:
        parts.append(_audio_part(audio))
    content: Any = text if parts == [{"type": "text", "text": text}] else parts
    if endpoint == RESPONSES:
        return {"model": model, "input": [{"role": "user", "content": _responses_parts(parts)}]}
    if endpoint in ANTHROPIC:
        blocks = _anthropic_blocks(parts)
        return {
            "model": model,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": blocks}],
        }
    return {"model": model, "messages": [{"role": "user", "content": content}]}


def _responses_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat parts in the Responses API's spelling."""
    spelled = []
    for part in parts:
        kind = part["type"]
        if kind == "text":
            spelled.append({"type": "input_text", "text": part["text"]})
        elif kind == "image_url":
            spelled.append({"type": "input_image", "image_url": part["image_url"]["url"]})
        else:
            spelled.append(part)
    return spelled


def _anthropic_blocks(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat parts as Anthropic's content blocks (images by URL; it has no video or audio)."""
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if part["type"] == "text":
            blocks.append(part)
        elif part["type"] == "image_url":
            url = part["image_url"]["url"]
            blocks.append({"type": "image", "source": {"type": "url", "url": url}})
        else:
            raise typer.BadParameter(
                f"Anthropic's Messages API has no {part['type']} parts", param_hint="--endpoint"
            )
    return blocks


def _audio_part(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        message = f"cannot read {path}: {exc.strerror}"
        raise typer.BadParameter(message, param_hint="--audio") from exc
    fmt = _AUDIO_FORMATS.get(path.suffix.lower(), "wav")
    encoded = base64.b64encode(data).decode()
    return {"type": "input_audio", "input_audio": {"data": encoded, "format": fmt}}


def _print(answer: dict[str, Any]) -> None:
    console = Console()
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for key in ("intent", "confidence", "stage", "language", "modalities", "model", "route"):
        value = answer.get(key)
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    table.add_row("candidates", " -> ".join(answer.get("candidates", [])) or "(none)")
    if answer.get("degrade"):
        table.add_row("degrade", str(answer["degrade"]))
    table.add_row("classify_ms", f"{answer.get('classify_ms', 0):.3f}")
    console.print(table)
    for reason in answer.get("reasons", []):
        console.print(f"  - {reason}", highlight=False, markup=False)


def _fail(message: str) -> None:
    Console(stderr=True).print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)
