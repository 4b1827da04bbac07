"""The `servers` section: how to launch each server, what it may hold, and what it can take."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from modelyard_config.fields import Name, Seconds, ServerName, Strict
from modelyard_config.retry import RetryPolicy

# What a server can be sent (modelyard_config.endpoints.NEEDS says which endpoint needs which):
# text: chat and completions; image, video, audio_in: those content parts; audio_out: audio in
# the answer; tools: tool definitions. transcription: /v1/audio/transcriptions and
# /translations (Whisper); speech: /v1/audio/speech (TTS). embedding: /v1/embeddings; rerank:
# /v1/rerank and /v1/score (vLLM's pooling runner). responses: OpenAI's /v1/responses;
# messages: Anthropic's /v1/messages and its count_tokens (vLLM serves both for chat models).
Capability = Literal[
    "text",
    "image",
    "audio_in",
    "audio_out",
    "video",
    "tools",
    "embedding",
    "rerank",
    "responses",
    "messages",
    "transcription",
    "speech",
]
# hot: started with the supervisor, never evicted; warm: sleeps when idle or evicted;
# cold: stopped when idle or evicted.
Tier = Literal["hot", "warm", "cold"]
# process: a local process group; docker: a container on a Docker engine (supervisor.docker).
LauncherKind = Literal["process", "docker"]


class ContainerSpec(Strict):
    """How a `launcher: docker` server runs: the image, and what the container gets beyond the
    server's `command` (its arguments to the image's entrypoint) and `env`.

    Placeholders as in a command: `{port}` is the port the server listens on inside the
    container (published on 127.0.0.1 as the same number), `{host}` is the address it must
    bind (0.0.0.0 unless `network: host`), `{models_dir}` is the host's model folder (for a
    volume's source).
    """

    image: str = Field(min_length=1)
    # None: the image's own ENTRYPOINT (vllm/vllm-openai's is `vllm serve`).
    entrypoint: list[str] | None = None
    # "source:target" or "source:target:ro|rw"; source is an absolute host path or a volume name.
    volumes: list[str] = []
    shm_size: str | None = None  # docker's --shm-size ("16g"); vLLM wants one for tensor parallel
    ipc: str | None = None  # docker's --ipc ("host")
    # None: the port is published on 127.0.0.1 (docker's default bridge). "host": the host's
    # network. Any other name: that user-defined network, where the server is reached by its
    # container name (the compose setup: supervisor, proxy and servers on one network).
    network: str | None = None
    # GPUs through device_requests: the devices the supervisor placed the server on.
    gpus: bool = True
    user: str | None = None
    # missing: pull only when the engine lacks the image; never: fail at once naming it.
    pull: Literal["missing", "always", "never"] = "missing"


class SwitchPriors(Strict):
    """Seconds each switch is expected to take before the supervisor has measured it
    (supervisor/costs.py learns from every observed switch and keeps it in the state dir)."""

    start: Seconds = 60.0
    wake: Seconds = 5.0
    sleep: Seconds = 2.0
    stop: Seconds = 5.0


# The name of an environment variable (the key it holds is never written in the config).
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class RemoteSpec(Strict):
    """A model the proxy calls through LiteLLM's SDK (a hosted API, or any OpenAI-compatible
    server the supervisor does not run): never started, placed, woken or stopped, but a chain
    member like any other server (retries, breaker, fallback, headers, metrics).

    LiteLLM is the optional extra `modelyard[litellm]`, imported only when a config has one
    of these (proxy/remote.py).
    """

    # LiteLLM's `provider/model`: "openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest",
    # "openai/<served name>" with `api_base` for any OpenAI-compatible server
    model: str = Field(min_length=1)
    api_base: str | None = None
    # the variable that holds the API key, read by the proxy when it starts; None: no key
    api_key_env: EnvName | None = None
    api_version: str | None = None  # Azure's
    # any other LiteLLM parameter, passed to each call as it is (`organization`,
    # `aws_region_name`, `extra_headers`, ...)
    params: dict[str, Any] = {}


class ServerSpec(Strict):
    # A local server's model (a Hugging Face id or a path); for a remote one, its
    # `remote.model` unless given
    model: str
    remote: RemoteSpec | None = None
    launcher: LauncherKind = "process"
    container: ContainerSpec | None = None  # launcher: docker only, and then required
    served_name: Name | None = None
    description: str = ""
    command: list[str] | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    health_path: str | None = None
    startup_timeout: Seconds | None = None
    stop_grace: Seconds | None = None
    tier: Tier = "cold"
    idle_ttl: Seconds | None = None
    gpu_memory_gb: Annotated[float, Field(gt=0)] | None = None
    gpu_memory_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    # Host RAM the weights take while the server sleeps at level 1 (vLLM copies them there),
    # counted against supervisor.sleep.host_budget_gb. None: its GPU budget, an upper bound
    # (the budget holds the KV cache too, which a sleep drops).
    weights_gb: Annotated[float, Field(gt=0)] | None = None
    tensor_parallel_size: Annotated[int, Field(ge=1)] = 1
    capabilities: list[Capability] = ["text"]
    max_model_len: Annotated[int, Field(gt=0)] | None = None
    # The most tokens one request may ask of this server; a larger max_tokens (or
    # max_completion_tokens) is lowered to it and the response says so.
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    retry: RetryPolicy | None = None  # overrides the route's and the proxy's
    switch_costs: SwitchPriors = SwitchPriors()
    # Smaller servers of the same model (an AWQ or GPTQ quantisation with its own budget), best
    # first: when this one is not ready and would fit only by evicting a busy server, the
    # supervisor places a variant instead. Each is a server of its own that serves this one's
    # name (`served_name`), so a request rendered for this one is right for it.
    variants: list[ServerName] = []

    @model_validator(mode="before")
    @classmethod
    def _remote_model(cls, data: Any) -> Any:
        """A remote server's `model` defaults to its `remote.model`: one name to write."""
        if isinstance(data, dict) and "model" not in data and isinstance(data.get("remote"), dict):
            return {**data, "model": data["remote"].get("model")}
        return data

    @property
    def is_remote(self) -> bool:
        return self.remote is not None
