"""The `proxy.limits` section: how big, how deep, how many and how slow a request may be.

Every input the proxy reads is bounded by one of these before it is read whole, decoded or
parsed, so no client (careless or hostile) can make the proxy hold more than a known amount
of memory or CPU for one request. Each default is sound for the customer's six use cases;
each crossing is a 4xx in OpenAI's shape that names the limit and its key.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from modelyard_config.fields import Seconds, Strict

MiB = 2**20
Count = Annotated[int, Field(ge=1)]
Bytes = Annotated[int, Field(ge=1024)]


class Limits(Strict):
    # Bodies: a JSON request (chat with base64 images or audio inlined) and an audio upload
    # (OpenAI's own limit: 25 MB). Over either: 413 as soon as the bytes read cross it.
    json_body_bytes: Bytes = 32 * MiB
    upload_bytes: Bytes = 25 * MiB
    # Shape of a JSON body: nesting depth, messages, content parts in all messages, and media
    # parts (image, audio, video) in all messages.
    json_depth: Count = 64
    messages: Count = 2048
    content_parts: Count = 4096
    media_parts: Count = 64
    # Items in one batch: an embedding request's inputs, a rerank's documents, a score's
    # texts (OpenAI's own limit for embeddings: 2,048 inputs).
    batch_inputs: Count = 2048
    # Slow clients: the longest pause between two chunks of a body, and the longest a whole
    # body may take to arrive.
    body_idle_timeout: Seconds = 30.0
    body_timeout: Seconds = 300.0
    # Media the proxy itself reads (the degradations): bytes per media URL, the time to fetch
    # one, and video decoding bounds (resolution, frames decoded, wall-clock decode time).
    media_bytes: Bytes = 64 * MiB
    media_fetch_timeout: Seconds = 30.0
    video_max_side: Count = 4096
    video_frames: Count = 20_000
    video_decode_seconds: Seconds = 20.0
    # Threads decoding video frames: a pool of their own, so decoding never starves DNS
    # lookups or the embedder in the default pool.
    decode_threads: Annotated[int, Field(ge=1, le=64)] = 2
