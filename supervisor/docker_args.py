"""Pure translation of a container server's LaunchSpec into the Docker SDK's
`containers.create(**kwargs)`: no engine is contacted here, so the mapping is tested alone.

Volumes become `Mount`s rather than `-v` binds: a bind whose source does not exist is then an
error naming it (a typo in a model path fails the start), where `-v` would quietly create an
empty root-owned folder and vLLM would fail later with a less useful message.
"""

from __future__ import annotations

from typing import Any

from docker.types import DeviceRequest, LogConfig, Mount

from supervisor.command import ContainerLaunch, LaunchSpec

ENGINE_LOG_LIMITS = {"max-size": "16m", "max-file": "2"}


def mount(volume: str) -> Mount:
    """`source:target[:ro|rw]` (checked by the config): an absolute source is a bind mount of
    that host path, any other a named volume (created by the engine on first use)."""
    source, target, *mode = volume.split(":")
    kind = "bind" if source.startswith("/") else "volume"
    return Mount(target, source, type=kind, read_only=mode == ["ro"])


def network_kwargs(box: ContainerLaunch) -> dict[str, Any]:
    """None: the port published on the host's loopback only (the supervisor probes it there,
    and nothing beyond the box should reach a model server unauthenticated). "host": the
    host's network, nothing to publish. A name: that network, reached by container name, so
    nothing is published either."""
    if box.network is None:
        return {"ports": {f"{box.port}/tcp": ("127.0.0.1", box.port)}}
    if box.network == "host":
        return {"network_mode": "host"}
    return {"network": box.network}


def create_kwargs(spec: LaunchSpec, passed: dict[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments of `DockerClient.containers.create` for `spec`; `passed`: host
    variables the container also gets, under its own env."""
    box = spec.container
    if box is None:
        raise ValueError(f"{spec.name} is not a container server")
    kwargs: dict[str, Any] = {
        "image": box.image,
        "name": box.name,
        "command": list(spec.argv),
        "entrypoint": list(box.entrypoint) if box.entrypoint is not None else None,
        "environment": {**(passed or {}), **spec.env},
        "labels": dict(box.labels),
        "mounts": [mount(v) for v in box.volumes],
        "detach": True,
        # The env is what servers.yaml says: not proxy variables from ~/.docker/config.json.
        "use_config_proxy": False,
        # The launcher copies the output into the server's own rotated log; the engine's copy
        # (what `docker logs` reads) is bounded too, or a chatty server fills its disk.
        "log_config": LogConfig(type="json-file", config=ENGINE_LOG_LIMITS),
        **network_kwargs(box),
    }
    optional = {"shm_size": box.shm_size, "ipc_mode": box.ipc, "user": box.user}
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    if box.gpu_indices is not None:
        # The placed GPUs by index, as `docker run --gpus '"device=2,3"'` asks for them.
        ids = [str(i) for i in box.gpu_indices]
        kwargs["device_requests"] = [DeviceRequest(device_ids=ids, capabilities=[["gpu"]])]
    return kwargs
