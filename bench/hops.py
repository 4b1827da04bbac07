"""The two other proxy hops of `make bench-compare`, nginx and LiteLLM: their generated
configs (pure) and their processes (each in a session of its own, stopped whatever happens).

nginx runs in the foreground with a config and prefix in a temp dir (`-c`, `-p`, `-e`,
`daemon off`), one worker (like modelyard's and LiteLLM's one event loop), keep-alive
connections to the upstream and no buffering, so a stream passes through as it comes: the
practical floor of a proxy hop. It also answers by itself on one more port (`return 200`),
the fastest server here, against which the load generator's own ceiling is measured.

LiteLLM runs from its own venv (scripts/setup-litellm.sh) with one worker, as `litellm --config`
starts by default, each model as `openai/<name>` with `api_base` at the same upstream, and a
master key (LITELLM_MASTER_KEY): LiteLLM 1.106 refuses to start without one, so its clients
send it as a bearer token (bench/compare.py sends the same header on every path).
LiteLLM's production guide recommends one worker per CPU (`--num_workers $(nproc)`):
`--litellm-workers` sets that here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

LITELLM_VENV = Path(os.environ.get("MODELYARD_HOME", "~/.cache/modelyard")).expanduser() / (
    "litellm-venv"
)


def nginx_config(
    prefix: Path,
    routes: Mapping[int, int],
    floor: tuple[int, bytes] | None = None,
    workers: int = 1,
) -> str:
    """nginx.conf: listen port -> upstream port for each route, and `floor` (port, body): a
    server answering `body` itself. Everything it writes stays under `prefix`."""
    upstreams, servers = [], []
    for listen, upstream in routes.items():
        upstreams.append(
            f"  upstream up{upstream} {{\n"
            f"    server 127.0.0.1:{upstream};\n"
            "    keepalive 64;\n"
            "    keepalive_requests 1000000;\n"
            "  }\n"
        )
        servers.append(
            "  server {\n"
            f"    listen 127.0.0.1:{listen};\n"
            "    location / {\n"
            f"      proxy_pass http://up{upstream};\n"
            "      proxy_http_version 1.1;\n"
            '      proxy_set_header Connection "";\n'
            "      proxy_buffering off;\n"
            "    }\n"
            "  }\n"
        )
    if floor is not None:
        port, body = floor
        text = body.decode()
        if "'" in text or "\\" in text:
            raise ValueError("the floor's body must not hold quotes or backslashes")
        servers.append(
            "  server {\n"
            f"    listen 127.0.0.1:{port};\n"
            "    default_type application/json;\n"
            f"    location / {{ return 200 '{text}'; }}\n"
            "  }\n"
        )
    temp = "".join(
        f"  {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"worker_processes {workers};\n"
        f"pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        "  access_log off;\n"
        # nginx closes a client connection after 1,000 requests by default; the bench's
        # clients keep theirs for a whole run, as with the other paths
        "  keepalive_requests 1000000;\n"
        f"{temp}{''.join(upstreams)}{''.join(servers)}"
        "}\n"
    )


def litellm_config(models: Mapping[str, str]) -> dict[str, Any]:
    """LiteLLM's config.yaml: each model name -> its OpenAI-compatible base URL (…/v1)."""
    return {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {"model": f"openai/{name}", "api_base": base, "api_key": "none"},
            }
            for name, base in models.items()
        ]
    }


def nginx_binary() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def litellm_binary() -> Path | None:
    binary = LITELLM_VENV / "bin" / "litellm"
    return binary if binary.exists() else None


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM to the process's group, then SIGKILL after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _wait_ready(
    proc: subprocess.Popen[bytes], ready: Any, timeout: float, what: str, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@contextlib.contextmanager
def running_nginx(
    tmp: Path, routes: Mapping[int, int], floor: tuple[int, bytes] | None
) -> Iterator[subprocess.Popen[bytes]]:
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed (scripts/setup-bench.sh installs it)")
    prefix = tmp / "nginx"
    prefix.mkdir(parents=True)
    config = prefix / "nginx.conf"
    config.write_text(nginx_config(prefix, routes, floor))
    log = prefix / "stderr.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "-e", "stderr", "-c", str(config), "-p", str(prefix), "-g", "daemon off;"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ports = [*routes, *([floor[0]] if floor else [])]
        _wait_ready(proc, lambda: all(map(_accepts, ports)), 10, "nginx", log)
        yield proc
    finally:
        _stop(proc, grace=5)


def _live(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running_litellm(
    tmp: Path, models: Mapping[str, str], port: int, master_key: str, workers: int = 1
) -> Iterator[subprocess.Popen[bytes]]:
    binary = litellm_binary()
    if binary is None:
        raise RuntimeError(
            f"no LiteLLM venv at {LITELLM_VENV} (scripts/setup-litellm.sh builds it)"
        )
    folder = tmp / "litellm"
    folder.mkdir(parents=True)
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(litellm_config(models), sort_keys=False))
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # offline: no fetch of its price map
        "LITELLM_MASTER_KEY": master_key,
        "PYTHONPATH": "",  # nothing of this checkout in LiteLLM's imports
    }
    log = folder / "litellm.log"
    command = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--num_workers", str(workers)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=folder,
        )
    try:
        url = f"http://127.0.0.1:{port}/health/liveliness"
        _wait_ready(proc, lambda: _live(url), 180, "LiteLLM", log)
        yield proc
    finally:
        _stop(proc)
