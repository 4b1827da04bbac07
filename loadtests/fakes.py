"""The mix's servers as one harness/fake_vllm.py: it takes every capability, under the CPU
profile's routes and the named server's name, and answers at once (chat as an echo, streams,
embeddings, rerank, both audio endpoints). Where the proxy's own part is measured, not the
models': the locust integration test, and `python -m loadtests.cost`."""

from __future__ import annotations

from typing import Any

from harness.stack import fake_server
from loadtests.mix import NAMED_SERVER

EVERYTHING = ["text", "tools", "image", "video", "audio_in"]
EVERYTHING += ["embedding", "rerank", "transcription", "speech"]


def fakes_only(config: dict[str, Any]) -> None:
    fake = fake_server(
        "--echo", "--audio", "--stream-delay", "0", gpu_memory_gb=0.1, capabilities=EVERYTHING
    )
    config["servers"] = {NAMED_SERVER: fake}
    config["routes"] = {route: [NAMED_SERVER] for route in config["routes"]}
