"""Smoke check of the CPU profile's multimodal server: real vLLM, tiny random-weight Qwen2-VL.

Renders the server's launch spec from the profile with the supervisor's own code (so the
`{media_libs}` PYTHONPATH and the flags are what `modelyard up` would run), builds the model if
it is missing, starts the server on a free port in its own process group, sends one chat request
with an image and one with a video (both as `data:` URLs), prints status codes, prompt tokens,
time to ready and the group's RSS, then stops the whole group, also on failure or Ctrl-C.
Answers are gibberish by design; a 200 means vLLM's image/video path really ran.

    python bench/vl_smoke.py [--config profiles/cpu.yaml] [--server tiny-qwen-vl]

Needs `scripts/setup-engine.sh` (engine venv and its media-libs). Exit 0 only if both are 200.
"""

from __future__ import annotations

import argparse
import asyncio
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

from supervisor import paths, tiny_models
from supervisor.command import LaunchFacts, LaunchSpec, render
from supervisor.config import parse_config
from supervisor.launchers import ProcessHandle, group_rss_bytes, log_tail, spawn, terminate
from tests.integration.media import data_url, mp4, png
from tests.integration.stack import free_port


def chat(model: str, kind: str, url: str) -> dict[str, Any]:
    part = {"type": f"{kind}_url", f"{kind}_url": {"url": url}}
    text = {"type": "text", "text": f"What is in this {kind}?"}
    return {
        "model": model,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": [part, text]}],
    }


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


async def run(spec: LaunchSpec, requests: dict[str, dict[str, Any]], log: Path) -> bool:
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
            for label, body in requests.items():
                t0 = time.monotonic()
                r = await http.post(spec.base_url + "/v1/chat/completions", json=body)
                ok &= r.status_code == 200
                usage = r.json().get("usage", {}) if r.status_code == 200 else {}
                detail = f"prompt_tokens={usage.get('prompt_tokens')}" if usage else r.text[:300]
                print(f"{label}: {r.status_code} in {time.monotonic() - t0:.2f} s; {detail}")
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
    p.add_argument("--server", default="tiny-qwen-vl")
    args = p.parse_args()
    data = yaml.safe_load(Path(args.config).read_text(encoding="utf-8"))
    config = parse_config(data, args.config)
    engine = paths.engine_python(config.supervisor.engine_python)
    models = paths.models_dir(config.supervisor.models_dir)
    model_name = Path(config.servers[args.server].model).name
    if model_name in tiny_models.CATALOG:
        tiny_models.build(models, model_name, engine)
    facts = LaunchFacts("127.0.0.1", free_port(), str(engine), str(models))
    spec = render(config, args.server, facts)
    print(" ".join(spec.argv), "\nenv:", spec.env)
    folder = Path(tempfile.mkdtemp(prefix="vl-smoke-"))
    image = data_url("image/png", png(640, 480))  # over max_pixels: resized to 64 tokens
    video = data_url("video/mp4", mp4())
    served = config.served_name(args.server)
    requests = {
        "image (data:image/png)": chat(served, "image", image),
        "video (data:video/mp4)": chat(served, "video", video),
    }
    if asyncio.run(run(spec, requests, folder / "server.log")):
        shutil.rmtree(folder)  # the log is kept only when something failed
        return 0
    print(f"kept for a look: {folder}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
