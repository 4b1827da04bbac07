"""A real tiny vLLM started directly, outside any supervisor: an OpenAI-compatible server that
modelyard does not run, as a hosted API is (the upstream of a remote server, issue 17).

It is launched from the CPU profile with the supervisor's own rendering (supervisor.command),
so its flags and environment are those `modelyard up` runs, plus a served name and an API key
of its own: vLLM then answers a wrong or missing key with a real 401. One start costs ~45 s on
the 2-core box, so a test module starts one and shares it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.stack import CPU_PROFILE, answers, free_port, group_pids, wait_for
from modelyard_config import parse_config
from supervisor import paths
from supervisor.child_env import child_env
from supervisor.command import LaunchFacts, render
from tinymodels import catalog


@dataclass(frozen=True)
class TinyVllm:
    api_base: str  # http://127.0.0.1:P/v1: what LiteLLM's `api_base` takes
    served_name: str
    log_path: Path


@contextlib.contextmanager
def serving(
    folder: Path, served_name: str, api_key: str, server: str = "tiny-qwen-a"
) -> Iterator[TinyVllm]:
    """The CPU profile's `server`, serving as `served_name` behind `api_key`, until the block
    ends; then its whole process group is stopped (vLLM forks its engine core)."""
    data = yaml.safe_load(CPU_PROFILE.read_text())
    entry = data["servers"][server]
    entry["served_name"] = served_name
    entry["args"] = [*entry.get("args", []), "--api-key", api_key]
    config = parse_config(data, str(CPU_PROFILE))
    engine = paths.engine_python(config.supervisor.engine_python)
    models = paths.models_dir(config.supervisor.models_dir)
    catalog.build(models, Path(config.servers[server].model).name, engine)
    spec = render(config, server, LaunchFacts("127.0.0.1", free_port(), str(engine), str(models)))
    log_path = folder / f"{served_name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            spec.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env(os.environ, (), spec.env),
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: proc.poll() is not None or answers(spec.health_url),
            timeout=spec.startup_timeout,
            what=f"tiny vLLM {served_name} to be ready",
            every=0.5,
        )
        assert proc.poll() is None, f"vLLM exited ({proc.returncode}):\n{log_path.read_text()}"
        yield TinyVllm(spec.base_url + "/v1", served_name, log_path)
    finally:
        _stop(proc, spec.stop_grace)


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the group, SIGKILL to whatever of it is left after `grace` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in group_pids(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
