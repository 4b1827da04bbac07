"""The `proxy` section: where it listens, keys, timeouts, retries and the breaker, and the
declared degradations (what to do with a request no server in its chain can take)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard_config.access import AccessSettings
from modelyard_config.fields import Name, Port, Seconds, Strict
from modelyard_config.limits import Limits
from modelyard_config.retry import CooldownSettings, RetryPolicy


class AudioToTranscript(Strict):
    """Chat with audio parts that no server in its chain hears (none can, or all failed): the
    audio is transcribed by `transcribe_with`'s chain and the text answered by `answer_with`."""

    transcribe_with: Name = "stt"
    answer_with: Name = "agent"


class VideoToFrames(Strict):
    """Chat with a video that no server in its chain sees: `frames` evenly spaced frames go
    to `answer_with`'s chain as images instead."""

    frames: Annotated[int, Field(ge=1, le=32)] = 4
    answer_with: Name = "multimodal"


class SpokenAnswers(Strict):
    """Chat asking for audio out (`modalities: ["audio"]`, or classified tts) when no server
    in its chain speaks: the text comes from `text_with`'s chain, the speech from
    `speak_with`'s, returned as `message.audio` in OpenAI's chat audio format."""

    text_with: Name = "agent"
    speak_with: Name = "tts"
    voice: str = "alloy"  # when the request names none
    format: Literal["wav", "mp3", "opus", "flac", "pcm"] = "wav"


class Degradations(Strict):
    """Declared ways to serve what no server in a chain can take as it is. Absent: off, and
    such a request gets the 400 or 503 that names why."""

    audio_in: AudioToTranscript | None = None
    video: VideoToFrames | None = None
    audio_out: SpokenAnswers | None = None


class ResponseMemory(Strict):
    """Which server holds each Responses API response the proxy relayed: vLLM keeps stored
    responses in that server's memory only, so `GET /v1/responses/{id}`, its cancel and a
    `previous_response_id` must reach the same server (and the same process of it). Bounded:
    the oldest are forgotten past `remember` ids or `ttl` seconds, and a forgotten id is a 404."""

    remember: Annotated[int, Field(ge=0)] = 10_000
    ttl: Seconds = 86_400.0


class StatusPage(Strict):
    """The live status page at `/ui` (proxy/ui/): what it keeps and whether it is served.

    It reads what any caller of the proxy's API may (a key when there are keys); its actions
    and log tails need the admin token (`supervisor.admin_token`), and without one configured
    the page is read-only. `recent_requests`: how many of the last requests it remembers (time,
    route, model, status, latency; never a body or a key), per proxy worker."""

    enabled: bool = True
    recent_requests: Annotated[int, Field(ge=0, le=10_000)] = 200


class ProxySettings(Strict):
    host: str = "127.0.0.1"
    port: Port = 4000
    supervisor_url: str | None = None
    retry: RetryPolicy = RetryPolicy()
    route_retry: dict[Name, RetryPolicy] = {}  # per route; a server's own `retry` wins
    # Seconds a request waits for capacity, over its whole chain, before it is served further
    # down the chain or refused (503 with Retry-After). A request's `x-modelyard-max-wait`
    # wins over its route's figure, which wins over this; None: the supervisor's
    # queue_timeout bounds the wait. README: Waiting for capacity.
    max_wait: Seconds | None = None
    route_max_wait: dict[Name, Seconds] = {}
    cooldown: CooldownSettings = CooldownSettings()
    connect_timeout: Seconds = 5.0
    request_timeout: Seconds = 600.0
    # API keys and their limits (access.py); `api_keys` is the short form: plain keys only.
    access: AccessSettings = AccessSettings()
    api_keys: list[str] = []
    limits: Limits = Limits()
    # SIGTERM: new requests get 503 with Retry-After; in-flight ones get this long to finish,
    # then any stream still open ends with an error event.
    drain_grace: Seconds = 30.0
    degrade: Degradations = Degradations()
    responses: ResponseMemory = ResponseMemory()
    # Media URLs the degradations fetch: refuse loopback/private hosts unless this is set.
    fetch_private_media: bool = False
    # Proxy processes serving `port` together, each with its own event loop: the kernel spreads
    # new connections over them (SO_REUSEPORT), so more than one loop's worth of requests can
    # be served. Each worker keeps its own memory, nothing shared: the breakers (a failing
    # server is skipped by each worker once that worker has seen it fail), the address cache
    # (each worker asks the supervisor), key quotas (a key's requests_per_minute and
    # max_concurrent are counted per worker, so together up to `workers` times those) and the
    # Responses API ids (a GET, cancel or previous_response_id finds a response only on the
    # worker that relayed it: run one worker if clients use stored responses). README: Workers.
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    ui: StatusPage = StatusPage()
