"""Smoke check of the CPU profile's tiny multimodal and audio vLLM servers, one at a time:
Qwen2-VL (image and video chat), Whisper (transcriptions, translations), Qwen2-Audio (chat with
audio parts), all random-weight.

Renders each server's launch spec from the profile with the supervisor's own code (so the
`{media_libs}` PYTHONPATH and the flags are what `modelyard up` runs), builds the model if it is
missing, starts the server on a free port in its own process group, sends the requests its
capabilities call for (media made on the spot: a PNG, an mp4, espeak-ng speech at 22.05 kHz so
vLLM's resampling runs too), prints status codes, time to ready and the group's RSS, then stops
the whole group, also on failure, Ctrl-C or SIGTERM. Answers are gibberish by design; a 200
with the media's tokens in the prompt means vLLM's media path really ran.

    python bench/smoke_models.py [--config profiles/cpu.yaml] [--server NAME ...]

Needs `scripts/setup-engine.sh` (engine venv and its media-libs) and espeak-ng. Exit 0 only if
every request answered 200.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.media import data_url, mp4, png
from harness.stack import free_port
from modelyard_config import load_config
from sidecars.stt.samples import SENTENCE, synthesize
from supervisor import paths, server_logs
from supervisor.command import LaunchFacts, LaunchSpec, render
from supervisor.process_launcher import ProcessHandle, ProcessLauncher
from tinymodels import catalog

# label -> (path, keyword arguments of httpx's post)
Requests = dict[str, tuple[str, dict[str, Any]]]


def transcription_requests(model: str, wav: bytes) -> Requests:
    def form(fmt: str, **fields: str) -> dict[str, Any]:
        data = {"model": model, "response_format": fmt, "temperature": "0", **fields}
        return {"data": data, "files": {"file": ("speech.wav", wav, "audio/wav")}}

    stt, tts = "/v1/audio/transcriptions", "/v1/audio/translations"
    return {
        "transcription json (language=en)": (stt, form("json", language="en")),
        "transcription verbose_json (language=en)": (stt, form("verbose_json", language="en")),
        "transcription text (language detected)": (stt, form("text", prompt="weekly report")),
        "translation json (language=de)": (tts, form("json", language="de")),
    }


def chat_requests(model: str, wav: bytes) -> Requests:
    b64 = base64.b64encode(wav).decode()
    parts = {
        "chat input_audio (base64 wav)": {
            "type": "input_audio",
            "input_audio": {"data": b64, "format": "wav"},
        },
        "chat audio_url (data:audio/wav)": {
            "type": "audio_url",
            "audio_url": {"url": f"data:audio/wav;base64,{b64}"},
        },
    }
    return {
        label: (
            "/v1/chat/completions",
            {
                "json": {
                    "model": model,
                    "max_tokens": 8,
                    "messages": [
                        {"role": "user", "content": [part, {"type": "text", "text": "What?"}]}
                    ],
                }
            },
        )
        for label, part in parts.items()
    }


def vision_requests(model: str) -> Requests:
    def chat(kind: str, url: str) -> tuple[str, dict[str, Any]]:
        part = {"type": f"{kind}_url", f"{kind}_url": {"url": url}}
        text = {"type": "text", "text": f"What is in this {kind}?"}
        body = {
            "model": model,
            "max_tokens": 8,
            "messages": [{"role": "user", "content": [part, text]}],
        }
        return "/v1/chat/completions", {"json": body}

    return {
        # 640 x 480 is over the processor's max_pixels: resized to 64 tokens
        "image (data:image/png)": chat("image", data_url("image/png", png(640, 480))),
        "video (data:video/mp4)": chat("video", data_url("video/mp4", mp4())),
    }


def requests_for(capabilities: list[str], model: str, wav: bytes) -> Requests:
    if "transcription" in capabilities:
        return transcription_requests(model, wav)
    if "image" in capabilities or "video" in capabilities:
        return vision_requests(model)
    return chat_requests(model, wav)


def describe(r: httpx.Response) -> str:
    if r.status_code != 200:
        return r.text[:300]
    if not r.headers.get("content-type", "").startswith("application/json"):
        return f"text={r.text[:60]!r}"
    body = r.json()
    if "choices" in body:
        return f"prompt_tokens={body.get('usage', {}).get('prompt_tokens')}"
    extra = {k: body[k] for k in ("language", "duration") if k in body}
    if "segments" in body:
        extra["segments"] = len(body["segments"] or [])
    return f"text={body.get('text', '')[:60]!r} {extra}"


async def wait_ready(http: httpx.AsyncClient, spec: LaunchSpec, handle: ProcessHandle) -> None:
    deadline = time.monotonic() + spec.startup_timeout
    while time.monotonic() < deadline:
        if handle.exited:
            raise RuntimeError("server exited before it was ready")
        try:
            if (await http.get(spec.health_url, timeout=2)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError(f"not ready within {spec.startup_timeout:.0f} s")


async def run(spec: LaunchSpec, requests: Requests, log: Path) -> bool:
    task = asyncio.current_task()
    if task is not None:  # a SIGTERM to this script still stops the server's group
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    started = time.monotonic()
    handle = await ProcessLauncher().start(spec, log)
    ok = True
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=300) as http:
            await wait_ready(http, spec, handle)
            print(f"ready after {time.monotonic() - started:.1f} s (pid {handle.pid})")
            for label, (path, kwargs) in requests.items():
                t0 = time.monotonic()
                r = await http.post(spec.base_url + path, **kwargs)
                ok &= r.status_code == 200
                print(f"{label}: {r.status_code} in {time.monotonic() - t0:.2f} s; {describe(r)}")
            print(f"RSS of the process group: {handle.rss_bytes() / 2**30:.2f} GiB")
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"failed: {exc}\n" + "\n".join(server_logs.tail(log, 30)), file=sys.stderr)
        ok = False
    finally:
        t0 = time.monotonic()
        await handle.stop(spec.stop_grace)
        print(f"stopped in {time.monotonic() - t0:.1f} s")
    return ok


DEFAULT_SERVERS = ("tiny-qwen-vl", "tiny-whisper", "tiny-qwen-audio")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(paths.project_root() / "profiles" / "cpu.yaml"))
    p.add_argument("--server", action="append", help=f"default: {', '.join(DEFAULT_SERVERS)}")
    args = p.parse_args()
    config = load_config(args.config)
    engine = paths.engine_python(config.supervisor.engine_python)
    models = paths.models_dir(config.supervisor.models_dir)
    failed = []
    for name in args.server or DEFAULT_SERVERS:
        if name not in config.servers:
            p.error(f"{name} is not a server of {args.config}")
        server = config.servers[name]
        model_name = Path(server.model).name
        if model_name in catalog.CATALOG:
            catalog.build(models, model_name, engine)
        spec = render(config, name, LaunchFacts("127.0.0.1", free_port(), str(engine), str(models)))
        print(f"\n== {name}\n" + " ".join(spec.argv), "\nenv:", spec.env)
        folder = Path(tempfile.mkdtemp(prefix=f"smoke-{name}-"))
        wav = synthesize(SENTENCE, folder / "speech.wav").read_bytes()  # 22.05 kHz mono
        requests = requests_for(list(server.capabilities), config.served_name(name), wav)
        if asyncio.run(run(spec, requests, folder / "server.log")):
            shutil.rmtree(folder)  # the log is kept only when something failed
        else:
            print(f"kept for a look: {folder}")
            failed.append(name)
    print(f"\nfailed: {', '.join(failed)}" if failed else "\nall servers answered every request")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
