"""Images and video through the proxy to the CPU profile's real multimodal server: vLLM's CPU
build serving a tiny random-weight Qwen2-VL (answers are gibberish; the path is real). A
video no server can see is cut into frames and sent as images, as the profile declares."""

from __future__ import annotations

from typing import Any

import httpx

from harness.media import data_url, mp4, png
from harness.stack import Stack

# Each 112 x 112 frame is (112 / 14)^2 / 2^2 = 16 tokens for the tiny Qwen2-VL.
TOKENS_PER_FRAME = 16


def ask(stack: Stack, model: str, part: dict[str, Any], text: str) -> Any:
    return stack.openai().chat.completions.with_raw_response.create(
        model=model,
        max_tokens=4,
        messages=[{"role": "user", "content": [part, {"type": "text", "text": text}]}],
    )


def image_part() -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": data_url("image/png", png())}}


def video_part() -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": data_url("video/mp4", mp4())}}


def test_an_image_reaches_the_real_multimodal_server(stack: Stack) -> None:
    raw = ask(stack, "auto", image_part(), "What is in this picture?")
    assert raw.headers["x-modelyard-intent"] == "multimodal"
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-vl"
    completion = raw.parse()
    # the image's tokens are in the prompt: vLLM's vision path ran
    assert completion.usage.prompt_tokens > 2 * TOKENS_PER_FRAME


def test_a_video_reaches_the_real_multimodal_server(stack: Stack) -> None:
    raw = ask(stack, "auto", video_part(), "What happens in this video?")
    assert raw.headers["x-modelyard-intent"] == "video"
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-vl"
    assert "x-modelyard-degraded" not in raw.headers
    assert raw.parse().usage.prompt_tokens > TOKENS_PER_FRAME


def test_a_video_no_server_sees_goes_as_frames(stack: Stack) -> None:
    raw = ask(stack, "fault-video", video_part(), "What happens in this video?")
    assert raw.headers["x-modelyard-degraded"] == "video->frames:4"
    assert raw.headers["x-modelyard-route"] == "fault-video"
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-vl"  # the multimodal chain's first
    assert raw.parse().usage.prompt_tokens >= 4 * TOKENS_PER_FRAME


def test_a_video_that_cannot_be_decoded_is_a_400_naming_the_part(stack: Stack) -> None:
    bad = {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAA"}}
    response = httpx.post(
        stack.proxy_url + "/v1/chat/completions",
        json={"model": "fault-video", "messages": [{"role": "user", "content": [bad]}]},
        timeout=120,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content[0]"
