"""Pure translation of a server's config into what a launcher needs: argv, env, health URL.

No I/O here: the launch-time facts (port, interpreter path, models folder) come in as
arguments, so the rendering is tested without processes. Templates are argument lists,
never shell strings, so a model path with spaces or quotes cannot turn into a command.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import asdict, dataclass, replace
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
    # Names this supervisor's containers (supervisor.docker.instance, or its state dir's hash).
    instance: str = "default"


# Labels on every container modelyard creates: whose it is, and what it runs.
LABEL_MANAGED = "io.modelyard.managed"  # "1"
LABEL_INSTANCE = "io.modelyard.instance"  # which supervisor (LaunchFacts.instance)
LABEL_SERVER = "io.modelyard.server"  # the server's name in servers.yaml
LABEL_FINGERPRINT = "io.modelyard.fingerprint"  # LaunchSpec.fingerprint()
LABEL_PORT = "io.modelyard.port"


@dataclass(frozen=True)
class ContainerLaunch:
    """What a container launcher creates, every placeholder filled."""

    image: str
    name: str  # the container's name: container_name(instance, server)
    entrypoint: list[str] | None  # None: the image's own
    volumes: list[str]  # "source:target[:mode]", filled
    shm_size: str | None
    ipc: str | None
    network: str | None  # None: publish `port` on 127.0.0.1; "host"; or a network's name
    port: int  # the server's port inside the container (and published as the same number)
    gpu_indices: tuple[int, ...] | None  # device_requests' device_ids; None: no GPU
    user: str | None
    pull: str  # missing | always | never
    labels: dict[str, str]


@dataclass(frozen=True)
class LaunchSpec:
    name: str
    argv: list[str]  # a process's command line; a container's command (the entrypoint's args)
    env: dict[str, str]
    base_url: str
    health_url: str
    startup_timeout: float
    stop_grace: float
    container: ContainerLaunch | None = None  # set for `launcher: docker` servers

    def fingerprint(self) -> str:
        """What the workload is, hashed: a recorded server whose fingerprint differs from what
        this config renders is not adopted (its command, env or container changed). Labels are
        left out: they carry the fingerprint itself."""
        container = asdict(self.container) if self.container else None
        if container is not None:
            container.pop("labels")
        data = json.dumps([self.argv, self.env, container], sort_keys=True, default=list)
        return hashlib.sha256(data.encode()).hexdigest()[:16]


_DOCKER_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(instance: str, server: str) -> str:
    """`modelyard-<instance>-<server>`, valid as a Docker name (a server name may hold `:`,
    which Docker refuses: replaced, with a short hash so two names cannot meet)."""
    clean = _DOCKER_NAME_BAD.sub("_", server)
    if clean != server:
        clean += "-" + hashlib.sha256(server.encode()).hexdigest()[:6]
    return f"modelyard-{instance}-{clean}"


def render(config: Config, name: str, facts: LaunchFacts) -> LaunchSpec:
    spec = config.servers[name]
    defaults = config.supervisor.defaults
    box = spec.container if spec.launcher == "docker" else None
    if box is not None:
        # The image's entrypoint takes the command: supervisor.defaults.command is a process's.
        template = [*(spec.command or []), *spec.args]
        # Inside its own network namespace the server must listen on every address for the
        # published port (or the shared network) to reach it; on the host's network, loopback.
        bind = "127.0.0.1" if box.network == "host" else "0.0.0.0"
        cname = container_name(facts.instance, name)
        reach = cname if box.network not in (None, "host") else facts.host
    else:
        template = [*(spec.command or defaults.command or []), *spec.args]
        bind = reach = facts.host
    model = fill(spec.model, {"models_dir": facts.models_dir})
    values = {
        "model": model,
        "served_name": config.served_name(name),
        "name": name,
        "host": bind,
        "port": str(facts.port),
        "engine_python": facts.engine_python,
        "python": facts.python,
        "media_libs": str(PurePath(facts.engine_python).parent.parent / MEDIA_LIBS),
        "models_dir": facts.models_dir,
        "gpu_memory_utilization": f"{facts.gpu_memory_utilization:.4f}",
        "tensor_parallel_size": str(spec.tensor_parallel_size),
    }
    base_url = f"http://{reach}:{facts.port}"
    # Filled like argv, so a server can point PYTHONPATH at {media_libs} without a fixed path.
    # A container gets its own env only: defaults.env is written for the host's processes.
    own_env = spec.env if box is not None else {**defaults.env, **spec.env}
    env = {key: fill(value, values) for key, value in own_env.items()}
    if facts.cuda_devices is not None and box is None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in facts.cuda_devices)
    health_path = spec.health_path or defaults.health_path
    launch = LaunchSpec(
        name=name,
        argv=[fill(arg, values) for arg in template],
        env=env,
        base_url=base_url,
        health_url=base_url + health_path,
        startup_timeout=spec.startup_timeout or defaults.startup_timeout,
        stop_grace=spec.stop_grace or defaults.stop_grace,
    )
    if box is None:
        return launch
    container = ContainerLaunch(
        image=box.image,
        name=cname,
        entrypoint=[fill(a, values) for a in box.entrypoint] if box.entrypoint else None,
        volumes=[fill(v, values) for v in box.volumes],
        shm_size=box.shm_size,
        ipc=box.ipc,
        network=box.network,
        port=facts.port,
        # device_requests renumber the placed GPUs from 0 inside the container, as
        # CUDA_VISIBLE_DEVICES does for a process.
        gpu_indices=facts.cuda_devices if box.gpus else None,
        user=box.user,
        pull=box.pull,
        labels={},
    )
    launch = replace(launch, container=container)
    labels = {
        LABEL_MANAGED: "1",
        LABEL_INSTANCE: facts.instance,
        LABEL_SERVER: name,
        LABEL_FINGERPRINT: launch.fingerprint(),
        LABEL_PORT: str(facts.port),
    }
    return replace(launch, container=replace(container, labels=labels))
