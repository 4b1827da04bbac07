"""The sidecar's one typed configuration, validated once by the CLI and passed in explicitly.

Building it reads nothing from disk; `catalog.resolve` is the separate step that looks for
models. Defaults follow the measured CPU box: int8 weights and two threads per model keep a
request on tiny.en at a fraction of real time (see `bench.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ComputeType = Literal["int8", "int8_float32", "float32"]

# OpenAI's documented upload limit for /v1/audio; a larger body is refused before parsing.
OPENAI_UPLOAD_LIMIT = 25 * 1024 * 1024
# The longest audio decoded: bytes bound nothing (25 MB of 8 kHz FLAC silence is 40 hours,
# 8.6 GiB as float32); two hours is 460 MB of samples, longer than any one call we serve.
MAX_AUDIO_SECONDS = 7200.0


def default_cache_dir() -> Path:
    """Where assembled models live: beside the rest of modelyard's state, outside the checkout."""
    home = Path(os.environ.get("MODELYARD_HOME", "~/.cache/modelyard")).expanduser()
    return home / "stt-models"


class ExtraModel(BaseModel):
    """A ready CTranslate2 Whisper directory given on the command line (`--model-dir`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    path: Path


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8300, ge=0, le=65535)
    cache_dir: Path = Field(default_factory=default_cache_dir)
    extra_models: tuple[ExtraModel, ...] = ()
    # Empty means every model found; otherwise load only these names, in this order.
    only: tuple[str, ...] = ()
    cpu_threads: int = Field(default=2, ge=1, le=64)
    compute_type: ComputeType = "int8"
    beam_size: int = Field(default=5, ge=1, le=10)
    max_upload_bytes: int = Field(default=OPENAI_UPLOAD_LIMIT, gt=0)
    max_audio_seconds: float = Field(default=MAX_AUDIO_SECONDS, gt=0)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
