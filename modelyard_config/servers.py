"""The `servers` section: how to launch each server, what it may hold, and what it can take."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard_config.fields import Name, Seconds, Strict
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


class ServerSpec(Strict):
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
    # The most tokens one request may ask of this server; a larger max_tokens (or
    # max_completion_tokens) is lowered to it and the response says so.
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    retry: RetryPolicy | None = None  # overrides the route's and the proxy's
