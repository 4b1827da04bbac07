"""Pure translation of a server's config into what a launcher needs: argv, env, health URL.

No I/O here: the launch-time facts (port, interpreter path, models folder) come in as
arguments, so the rendering is tested without processes. Templates are argument lists,
never shell strings, so a model path with spaces or quotes cannot turn into a command.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import PurePath

from modelyard_config import Config
from modelyard_config.placeholders import fill

# Beside the engine venv's bin/: torchvision, torchaudio, av and soundfile with their CUDA-linked
# .so files removed (scripts/setup-engine.sh). Only multimodal servers put it on PYTHONPATH.
MEDIA_LIBS = "media-libs"


@dataclass(frozen=True)
class LaunchFacts:
    host: str
    port: int
    engine_python: str
    models_dir: str
    # modelyard's own interpreter: the speech sidecars run from the project's venv, not vLLM's.
    python: str = sys.executable
    gpu_memory_utilization: float = 0.9
    cuda_devices: tuple[int, ...] | None = None  # CUDA indices the placement chose


@dataclass(frozen=True)
class LaunchSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    base_url: str
    health_url: str
    startup_timeout: float
    stop_grace: float


def render(config: Config, name: str, facts: LaunchFacts) -> LaunchSpec:
    spec = config.servers[name]
    defaults = config.supervisor.defaults
    template = [*(spec.command or defaults.command or []), *spec.args]
    model = fill(spec.model, {"models_dir": facts.models_dir})
    values = {
        "model": model,
        "served_name": config.served_name(name),
        "name": name,
        "host": facts.host,
        "port": str(facts.port),
        "engine_python": facts.engine_python,
        "python": facts.python,
        "media_libs": str(PurePath(facts.engine_python).parent.parent / MEDIA_LIBS),
        "models_dir": facts.models_dir,
        "gpu_memory_utilization": f"{facts.gpu_memory_utilization:.4f}",
        "tensor_parallel_size": str(spec.tensor_parallel_size),
    }
    base_url = f"http://{facts.host}:{facts.port}"
    # Filled like argv, so a server can point PYTHONPATH at {media_libs} without a fixed path.
    env = {key: fill(value, values) for key, value in {**defaults.env, **spec.env}.items()}
    if facts.cuda_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in facts.cuda_devices)
    health_path = spec.health_path or defaults.health_path
    return LaunchSpec(
        name=name,
        argv=[fill(arg, values) for arg in template],
        env=env,
        base_url=base_url,
        health_url=base_url + health_path,
        startup_timeout=spec.startup_timeout or defaults.startup_timeout,
        stop_grace=spec.stop_grace or defaults.stop_grace,
    )
