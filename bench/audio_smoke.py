"""Smoke check of the CPU profile's audio servers: real vLLM, tiny random-weight Whisper or
Qwen2-Audio.

Renders the server's launch spec with the supervisor's own code (from the profile, or from the
block proposed below when the profile has no such server yet), builds the model if it is
missing, starts the server on a free port in its own process group, sends real speech (espeak-ng,
22.05 kHz, so vLLM's resampling to 16 kHz runs too), prints status codes, time to ready and the
group's RSS, then stops the whole group, also on failure or Ctrl-C. Answers are gibberish by
design; a 200 means vLLM's audio path really ran.

    python bench/audio_smoke.py --server tiny-whisper      # transcriptions and translations
    python bench/audio_smoke.py --server tiny-qwen-audio   # chat with input_audio / audio_url

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
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sidecars.stt.samples import SENTENCE, synthesize
from supervisor import paths, tiny_models
from supervisor.command import LaunchFacts, LaunchSpec, render
from supervisor.config import parse_config
from supervisor.launchers import ProcessHandle, group_rss_bytes, log_tail, spawn, terminate
from tests.integration.stack import free_port

# What profiles/cpu.yaml would add. Both decode and resample audio with av/soundfile/torchaudio,
# which only the media-libs folder carries. Whisper's decoder holds 448 positions, so the
# default --max-model-len 512 is refused; Qwen2-Audio spends up to 750 tokens on 30 s of audio.
PROPOSED: dict[str, dict[str, Any]] = {
    "tiny-whisper": {
        "description": "tiny Whisper (random weights) - transcriptions on vLLM's speech path",
        "model": "{models_dir}/tiny-whisper",
        "gpu_memory_gb": 2,
        "capabilities": ["transcription"],
        "max_model_len": 448,
        "args": ["--max-model-len", "448"],
        "env": {"PYTHONPATH": "{media_libs}"},
    },
    "tiny-qwen-audio": {
        "description": "tiny Qwen2-Audio (random weights) - chat with audio parts",
        "model": "{models_dir}/tiny-qwen2-audio",
        "gpu_memory_gb": 2,
        "capabilities": ["text", "audio_in"],
        "max_model_len": 2048,
        "args": ["--max-model-len", "2048", "--limit-mm-per-prompt", '{"audio": 2}'],
        "env": {"PYTHONPATH": "{media_libs}"},
    },
}

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
    handle = spawn(spec, log)
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
            print(f"RSS of the process group: {group_rss_bytes(handle.pgid) / 2**30:.2f} GiB")
    except (RuntimeError, httpx.HTTPError) as exc:
        print(f"failed: {exc}\n" + "\n".join(log_tail(log, 30)), file=sys.stderr)
        ok = False
    finally:
        t0 = time.monotonic()
        await terminate(handle, spec.stop_grace)
        print(f"stopped in {time.monotonic() - t0:.1f} s; log: {log}")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(paths.project_root() / "profiles" / "cpu.yaml"))
    p.add_argument("--server", default="tiny-whisper")
    args = p.parse_args()
    data = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    if args.server not in data.get("servers", {}):
        if args.server not in PROPOSED:
            p.error(f"{args.server} is neither in {args.config} nor one of {sorted(PROPOSED)}")
        data["servers"][args.server] = PROPOSED[args.server]
        print(f"{args.server}: not in {args.config}; using the block proposed in this script")
    config = parse_config(data, args.config)
    server = config.servers[args.server]
    engine = paths.engine_python(config.supervisor.engine_python)
    models = paths.models_dir(config.supervisor.models_dir)
    model_name = Path(server.model).name
    if model_name in tiny_models.CATALOG:
        tiny_models.build(models, model_name, engine)
    facts = LaunchFacts("127.0.0.1", free_port(), str(engine), str(models))
    spec = render(config, args.server, facts)
    print(" ".join(spec.argv), "\nenv:", spec.env)
    folder = Path(tempfile.mkdtemp(prefix="audio-smoke-"))
    wav = synthesize(SENTENCE, folder / "speech.wav").read_bytes()  # 22.05 kHz mono
    served = config.served_name(args.server)
    if "transcription" in server.capabilities:
        requests = transcription_requests(served, wav)
    else:
        requests = chat_requests(served, wav)
    if asyncio.run(run(spec, requests, folder / "server.log")):
        shutil.rmtree(folder)  # the log is kept only when something failed
        return 0
    print(f"kept for a look: {folder}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
