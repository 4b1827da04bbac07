"""The CPU profile with every server swapped for a fake that answers at once and is always
up (harness/fake_vllm.py): routes, aliases, degradations and the classifier stay as shipped,
so fuzzed requests take the real paths through the proxy, and since no upstream is ever down
or slow, a 5xx can only be the proxy's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# name: capabilities, one fake per kind of server the profile's routes need, and the pooling
# models the shipped embed and rerank intents need a route to (vLLM serves the Responses and
# Messages APIs for every chat model)
SERVERS = {
    "fake-text": ["text", "tools", "responses", "messages"],
    "fake-vision": ["text", "image", "video", "responses", "messages"],
    "fake-hearing": ["text", "audio_in", "responses", "messages"],
    "fake-stt": ["transcription"],
    "fake-tts": ["speech"],
    "fake-embed": ["embedding"],
    "fake-rerank": ["rerank"],
}
ROUTES = {
    "agent": ["fake-text"],
    "tts": ["fake-tts"],
    "stt": ["fake-hearing", "fake-stt"],
    "avatar": ["fake-vision"],
    "multimodal": ["fake-vision"],
    "video": ["fake-vision"],
    "embed": ["fake-embed"],
    "rerank": ["fake-rerank"],
}


def fake_fleet(profile: dict[str, Any], server: Callable[[list[str]], dict[str, Any]]) -> None:
    """Replace `profile`'s servers and routes in place; `server(capabilities)` is one entry."""
    profile["servers"] = {name: server(caps) for name, caps in SERVERS.items()}
    profile["routes"] = {name: list(chain) for name, chain in ROUTES.items()}
