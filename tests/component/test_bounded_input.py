"""The proxy's hardening against what a client sends: bodies read within `proxy.limits` (413
as soon as the bytes cross the limit, the rest never read; 408 for a client that stops
sending), JSON nested too deep, too many messages or parts, and the malformed fields that
once reached a header, a multipart filename or a set lookup and answered a plain-text 500.
Each is now a 4xx in OpenAI's shape naming the param or the limit's key.

Why fakes here: as in test_proxy_app, a fake supervisor client (which server is ready where)
and a real aiohttp server on loopback standing in for vLLM, so the proxy's own reading,
checking and rewriting run on cue in milliseconds. Bodies are streamed to the in-process app
through httpx's ASGI transport, which hands the app a chunk only when it asks for one, so
a test can count how much of a body the proxy pulled.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp import web

from harness import loopback
from modelyard_config import Config, parse_config
from proxy.app import create_app
from tests.component.test_proxy_app import FakeAdmin, serving

MiB = 2**20


@dataclass
class Seen:
    """What the fake upstream received, per endpoint."""

    url: str = ""
    chats: list[dict[str, Any]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


SEEN = web.AppKey("seen", Seen)


async def _chat(request: web.Request) -> web.Response:
    seen = request.app[SEEN]
    body = await request.json()
    seen.chats.append(body)
    seen.headers.append(dict(request.headers))
    message = {"role": "assistant", "content": f"hello from {body['model']}"}
    return web.json_response(
        {
            "id": "c1",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
    )


async def _transcribe(request: web.Request) -> web.Response:
    seen = request.app[SEEN]
    got: dict[str, Any] = {}
    async for part in await request.multipart():
        assert isinstance(part, aiohttp.BodyPartReader)
        data = await part.read()
        got[part.name or ""] = {
            "filename": part.filename,
            "content_type": part.headers.get("content-type"),
            "size": len(data),
        }
    seen.uploads.append(got)
    seen.headers.append(dict(request.headers))
    return web.json_response({"text": "heard you"})


async def _speech(request: web.Request) -> web.Response:
    return web.Response(body=b"RIFF fake wav", content_type="audio/wav")


@pytest.fixture
async def upstream() -> AsyncIterator[Seen]:
    seen = Seen()
    app = web.Application(client_max_size=64 * MiB)
    app[SEEN] = seen
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_post("/v1/completions", _chat)
    app.router.add_post("/v1/audio/transcriptions", _transcribe)
    app.router.add_post("/v1/audio/speech", _speech)
    async with loopback.serving(app) as url:
        seen.url = url
        yield seen


def config(**limits: Any) -> Config:
    return parse_config(
        {
            "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
            "proxy": {
                "retry": {"attempts": 1},
                "limits": limits,
                "degrade": {
                    "audio_out": {"text_with": "agent", "speak_with": "tts"},
                    "audio_in": {"transcribe_with": "stt", "answer_with": "agent"},
                },
            },
            "servers": {
                "a": {"model": "m", "served_name": "a-served", "max_tokens": 100},
                "b": {"model": "m", "served_name": "b-served"},
                "stt-sc": {
                    "model": "w",
                    "served_name": "whisper",
                    "capabilities": ["transcription"],
                },
                "tts-sc": {"model": "v", "served_name": "tts-1", "capabilities": ["speech"]},
            },
            "routes": {"agent": ["a", "b"], "plain": ["b"], "stt": ["stt-sc"], "tts": ["tts-sc"]},
            "classifier": {
                "default_intents": False,
                "default": "chat",
                "intents": {"chat": {"route": "agent", "description": "chat"}},
            },
        }
    )


@contextlib.asynccontextmanager
async def proxy_with(upstream: Seen, **limits: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(create_app(config(**limits), FakeAdmin(upstream.url))) as client:
        yield client


@pytest.fixture
async def proxy(upstream: Seen) -> AsyncIterator[httpx.AsyncClient]:
    async with proxy_with(upstream) as client:
        yield client


def chat(*content: Any, **extra: Any) -> dict[str, Any]:
    parts = list(content) if content else "hi"
    return {"model": "plain", "messages": [{"role": "user", "content": parts}], **extra}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    return error


@dataclass
class Trickle:
    """A body sent in chunks with no Content-Length (chunked, as a streaming client sends),
    counting the chunks the proxy pulled; `stall_after` chunks, it stops sending (a slow or
    stuck client) until the test ends; `pause` seconds pass between chunks (a slow one)."""

    chunks: list[bytes]
    stall_after: int | None = None
    pause: float = 0.0
    pulled: int = 0
    stalled: asyncio.Event = field(default_factory=asyncio.Event)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            if i == self.stall_after:
                await self.stalled.wait()  # never set: the client has gone quiet
            if self.pause and i:
                await asyncio.sleep(self.pause)
            self.pulled += 1
            yield chunk

    @property
    def total(self) -> int:
        return sum(map(len, self.chunks))

    @property
    def pulled_bytes(self) -> int:
        return sum(map(len, self.chunks[: self.pulled]))


async def answered(request: Awaitable[httpx.Response]) -> httpx.Response:
    """The response to a request a stalled body would otherwise hold forever: a proxy that
    waited on it fails the test in 10 s instead of hanging the run."""
    return await asyncio.wait_for(request, 10)


def json_chunks(size: int, chunk: int = 16 * 1024) -> list[bytes]:
    """A valid JSON chat body of about `size` bytes, cut into `chunk`-byte pieces."""
    raw = b'{"model": "plain", "messages": [{"role": "user", "content": "' + b"x" * size + b'"}]}'
    return [raw[i : i + chunk] for i in range(0, len(raw), chunk)]


# --- bounded bodies -------------------------------------------------------------------------


async def test_a_chunked_json_body_over_the_limit_is_413_before_the_rest_is_read(
    upstream: Seen,
) -> None:
    body = Trickle(json_chunks(4 * MiB))
    async with proxy_with(upstream, json_body_bytes=64 * 1024) as client:
        response = await client.post("/v1/chat/completions", content=body)
    error = error_of(response, 413)
    assert error["code"] == "payload_too_large"
    assert "proxy.limits.json_body_bytes" in error["message"]
    # it stopped at the chunk that crossed 64 KiB: five of 16 KiB, of 4 MiB sent
    assert body.pulled_bytes <= 64 * 1024 + 16 * 1024 < body.total
    assert upstream.chats == []


async def test_a_declared_content_length_over_the_limit_is_413_before_any_byte_is_read(
    upstream: Seen,
) -> None:
    body = Trickle(json_chunks(256 * 1024))
    length = {"content-length": str(body.total)}
    async with proxy_with(upstream, json_body_bytes=64 * 1024) as client:
        response = await client.post("/v1/chat/completions", content=body, headers=length)
    assert error_of(response, 413)["code"] == "payload_too_large"
    assert body.pulled == 0


async def test_a_body_just_under_the_limit_is_served(upstream: Seen) -> None:
    body = Trickle(json_chunks(60 * 1024))
    async with proxy_with(upstream, json_body_bytes=64 * 1024) as client:
        response = await client.post("/v1/chat/completions", content=body)
    assert response.status_code == 200, response.text
    assert len(upstream.chats[0]["messages"][0]["content"]) == 60 * 1024


async def test_a_client_that_stops_sending_gets_a_408(upstream: Seen) -> None:
    body = Trickle(json_chunks(64 * 1024), stall_after=2)
    async with proxy_with(upstream, body_idle_timeout=0.2) as client:
        response = await answered(client.post("/v1/chat/completions", content=body))
    error = error_of(response, 408)
    assert error["code"] == "request_timeout"
    assert "proxy.limits.body_idle_timeout" in error["message"]
    assert body.pulled == 2


async def test_a_body_that_trickles_past_the_overall_timeout_gets_a_408(upstream: Seen) -> None:
    body = Trickle(json_chunks(64 * 1024, chunk=1024), pause=0.02)  # ~1.3 s to send whole
    async with proxy_with(upstream, body_idle_timeout=5, body_timeout=0.3) as client:
        response = await answered(client.post("/v1/chat/completions", content=body))
    error = error_of(response, 408)
    assert "proxy.limits.body_timeout" in error["message"]
    assert 0 < body.pulled < len(body.chunks)


# --- JSON shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [65, 1000, 100_000])
async def test_json_nested_deeper_than_the_limit_is_a_400_naming_it(
    proxy: httpx.AsyncClient, depth: int
) -> None:
    nested = "[" * depth + "]" * depth
    raw = '{"model": "plain", "messages": [{"role": "user", "content": "hi"}], "x": ' + nested
    response = await proxy.post("/v1/chat/completions", content=raw + "}")
    error = error_of(response, 400)
    assert "proxy.limits.json_depth" in error["message"]


async def test_json_nested_to_the_limit_is_served(proxy: httpx.AsyncClient) -> None:
    # the body itself is 1 level, messages 2, a message 3, so 61 more reach 64
    nested = "[" * 61 + "]" * 61
    raw = '{"model": "plain", "messages": [{"role": "user", "content": "hi"}], "x": ' + nested
    response = await proxy.post("/v1/chat/completions", content=raw + "}")
    assert response.status_code == 200, response.text


async def test_more_messages_than_the_limit_is_a_400(upstream: Seen) -> None:
    body = {"model": "plain", "messages": [{"role": "user", "content": "hi"}] * 5}
    async with proxy_with(upstream, messages=4) as client:
        error = error_of(await client.post("/v1/chat/completions", json=body), 400)
        assert error["param"] == "messages" and "proxy.limits.messages" in error["message"]
        body["messages"] = body["messages"][:4]
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200


async def test_more_content_parts_than_the_limit_is_a_400(upstream: Seen) -> None:
    text = {"type": "text", "text": "hi"}
    body = {
        "model": "plain",
        "messages": [
            {"role": "user", "content": [text] * 3},
            {"role": "user", "content": [text] * 3},
        ],
    }
    async with proxy_with(upstream, content_parts=5) as client:
        error = error_of(await client.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "messages[1].content[2]"  # the part that crossed the limit
    assert "proxy.limits.content_parts" in error["message"]


async def test_more_media_parts_than_the_limit_is_a_400(upstream: Seen) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    body = chat({"type": "text", "text": "look"}, image, audio, image)
    async with proxy_with(upstream, media_parts=2) as client:
        error = error_of(await client.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "messages[0].content[3]"
    assert "proxy.limits.media_parts" in error["message"]


# --- malformed fields that were 500s ---------------------------------------------------------


async def test_a_role_that_is_a_list_is_a_400_not_a_500(proxy: httpx.AsyncClient) -> None:
    body = {"model": "plain", "messages": [{"role": ["user"], "content": "hi"}]}
    error = error_of(await proxy.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "messages[0].role"


@pytest.mark.parametrize("fmt", [["wav"], {"x": 1}, 3])
async def test_an_audio_format_that_is_not_a_string_is_a_400(
    proxy: httpx.AsyncClient, fmt: Any
) -> None:
    body = chat(modalities=["text", "audio"], audio={"voice": "alloy", "format": fmt})
    error = error_of(await proxy.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "audio.format"


@pytest.mark.parametrize("fmt", ["wav\r\nx-evil: 1", "wav\x00", "../../etc/passwd", ["wav"]])
async def test_an_input_audio_format_that_is_no_audio_format_is_a_400(
    proxy: httpx.AsyncClient, upstream: Seen, fmt: Any
) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": fmt}}
    body = chat({"type": "text", "text": "what is said?"}, audio)  # plain cannot hear: transcribed
    error = error_of(await proxy.post("/v1/chat/completions", json=body), 400)
    assert error["param"] == "messages[0].content[1].input_audio.format"
    assert upstream.uploads == []


async def test_input_audio_with_a_known_format_is_transcribed_under_its_name(
    proxy: httpx.AsyncClient, upstream: Seen
) -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}}
    response = await proxy.post("/v1/chat/completions", json=chat(audio))
    assert response.status_code == 200, response.text
    assert upstream.uploads[0]["file"]["filename"] == "audio.mp3"


async def test_an_audio_url_with_a_junk_subtype_is_sent_under_a_safe_name(
    proxy: httpx.AsyncClient, upstream: Seen
) -> None:
    url = "data:audio/x\r\nevil;base64," + base64.b64encode(b"RIFF").decode()
    part = {"type": "audio_url", "audio_url": {"url": url}}
    response = await proxy.post("/v1/chat/completions", json=chat(part))
    assert response.status_code == 200, response.text
    assert upstream.uploads[0]["file"]["filename"] == "audio.wav"


def multipart(
    data: bytes,
    fields: dict[str, str] | None = None,
    filename: bytes = b"a.wav",
    content_type: bytes = b"audio/wav",
    chunk: int = 64 * 1024,
    name: bytes = b"file",
) -> tuple[list[bytes], str]:
    """An upload as OpenAI's clients send it, cut into chunks, and its content type; built by
    hand so a test can put bytes in its headers that no client library would."""
    boundary = b"modelyardtestboundary"
    head = b""
    for key, value in {"model": "stt", **(fields or {})}.items():
        head += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + key.encode()
        head += b'"\r\n\r\n' + value.encode() + b"\r\n"
    head += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name
    head += b'"; filename="' + filename + b'"\r\nContent-Type: ' + content_type + b"\r\n\r\n"
    raw = head + data + b"\r\n--" + boundary + b"--\r\n"
    chunks = [raw[i : i + chunk] for i in range(0, len(raw), chunk)]
    return chunks, f"multipart/form-data; boundary={boundary.decode()}"


def spooled_files() -> set[str]:
    """This process's open files in the temp dir: Starlette spools an upload over 1 MiB to
    an unnamed temp file, visible only as an open descriptor (`/tmp/#123 (deleted)`)."""
    tmp, found = tempfile.gettempdir(), set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith(tmp):
                found.add(target)
    return found


async def test_a_chunked_upload_over_the_limit_is_413_unread_and_leaves_no_temp_file(
    upstream: Seen,
) -> None:
    before = spooled_files()
    chunks, content_type = multipart(b"\0" * (16 * MiB))
    body = Trickle(chunks)
    async with proxy_with(upstream, upload_bytes=2 * MiB) as client:
        response = await client.post(
            "/v1/audio/transcriptions", content=body, headers={"content-type": content_type}
        )
        error = error_of(response, 413)
        assert error["param"] == "file" and "proxy.limits.upload_bytes" in error["message"]
        assert body.pulled_bytes <= 2 * MiB + 128 * 1024 < body.total
        assert spooled_files() == before
    assert upstream.uploads == []


async def test_an_upload_under_the_limit_is_sent_on_and_its_spool_closed(upstream: Seen) -> None:
    before = spooled_files()
    chunks, content_type = multipart(b"\0" * (3 * MiB // 2), {"language": "hi"})
    async with proxy_with(upstream, upload_bytes=2 * MiB) as client:
        response = await client.post(
            "/v1/audio/transcriptions",
            content=Trickle(chunks),
            headers={"content-type": content_type},
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-modelyard-language"] == "hi"
        assert spooled_files() == before
    assert upstream.uploads[0]["file"]["size"] == 3 * MiB // 2


async def test_an_upload_that_stops_mid_file_gets_a_408_and_leaves_no_temp_file(
    upstream: Seen,
) -> None:
    before = spooled_files()
    chunks, content_type = multipart(b"\0" * (3 * MiB // 2))
    body = Trickle(chunks, stall_after=len(chunks) - 2)  # past 1 MiB: spooled to disk
    async with proxy_with(upstream, body_idle_timeout=0.2) as client:
        response = await answered(
            client.post(
                "/v1/audio/transcriptions", content=body, headers={"content-type": content_type}
            )
        )
        assert error_of(response, 408)["code"] == "request_timeout"
        assert spooled_files() == before


@pytest.mark.parametrize(
    "language", ["日本語", "en\r\nx-evil: 1", "e", "english-language-code", "en US"]
)
async def test_a_transcription_language_that_is_no_language_code_is_a_400(
    proxy: httpx.AsyncClient, upstream: Seen, language: str
) -> None:
    chunks, content_type = multipart(b"RIFF", {"language": language})
    response = await proxy.post(
        "/v1/audio/transcriptions",
        content=b"".join(chunks),
        headers={"content-type": content_type},
    )
    assert error_of(response, 400)["param"] == "language"
    assert upstream.uploads == []


@pytest.mark.parametrize("language", ["en", "hi", "yue", "pt-BR", "zh_Hant"])
async def test_a_language_code_routes_and_is_echoed(
    proxy: httpx.AsyncClient, language: str
) -> None:
    chunks, content_type = multipart(b"RIFF", {"language": language})
    response = await proxy.post(
        "/v1/audio/transcriptions", content=b"".join(chunks), headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-language"] == language


async def test_route_refuses_a_language_that_could_not_be_a_header(
    proxy: httpx.AsyncClient,
) -> None:
    body = {"model": "stt", "language": "日本語"}
    response = await proxy.post("/route?endpoint=/v1/audio/transcriptions", json=body)
    assert error_of(response, 400)["param"] == "language"


@pytest.mark.parametrize(
    ("filename", "content_type", "sent_name", "sent_type"),
    [
        (b"a\x01b.wav", b"audio/wav", "audio", "audio/wav"),
        ("日本.wav".encode(), b"audio/wav", "日本.wav", "audio/wav"),
        (b"a.wav", b"audio/\x01wav", "a.wav", "application/octet-stream"),
    ],
    ids=["control-in-filename", "utf8-filename", "control-in-content-type"],
)
async def test_an_upload_with_odd_bytes_in_its_part_headers_is_sent_safely(
    proxy: httpx.AsyncClient,
    upstream: Seen,
    filename: bytes,
    content_type: bytes,
    sent_name: str,
    sent_type: str,
) -> None:
    chunks, form_type = multipart(b"RIFF", filename=filename, content_type=content_type)
    response = await proxy.post(
        "/v1/audio/transcriptions", content=b"".join(chunks), headers={"content-type": form_type}
    )
    assert response.status_code == 200, response.text
    sent = upstream.uploads[0]["file"]
    assert (sent["filename"], sent["content_type"]) == (sent_name, sent_type)


async def test_a_form_field_name_with_a_control_character_is_a_400(
    proxy: httpx.AsyncClient, upstream: Seen
) -> None:
    chunks, form_type = multipart(b"RIFF", {"x\x01y": "1"})
    response = await proxy.post(
        "/v1/audio/transcriptions", content=b"".join(chunks), headers={"content-type": form_type}
    )
    error_of(response, 400)
    assert upstream.uploads == []


async def test_a_broken_multipart_body_is_a_400(proxy: httpx.AsyncClient) -> None:
    response = await proxy.post(
        "/v1/audio/transcriptions",
        content=b"--nope\r\nrubbish",
        headers={"content-type": "multipart/form-data; boundary=other"},
    )
    assert error_of(response, 400)["param"] == "file"


# --- max_tokens ceilings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "sent", "said"),
    [
        ({"max_tokens": 500}, {"max_tokens": 100}, "100"),
        ({"max_completion_tokens": 500}, {"max_completion_tokens": 100}, "100"),
        ({}, {"max_tokens": 100}, "100"),
        ({"max_tokens": None}, {"max_tokens": 100}, "100"),
        ({"max_tokens": 50}, {"max_tokens": 50}, None),
        ({"max_tokens": 100}, {"max_tokens": 100}, None),
    ],
    ids=["lowered", "completion-tokens-lowered", "absent", "null", "under", "at"],
)
async def test_a_servers_max_tokens_caps_what_it_is_asked(
    proxy: httpx.AsyncClient,
    upstream: Seen,
    asked: dict[str, Any],
    sent: dict[str, Any],
    said: str | None,
) -> None:
    response = await proxy.post("/v1/chat/completions", json={**chat(), "model": "a", **asked})
    assert response.status_code == 200, response.text
    got = upstream.chats[-1]
    assert {k: got[k] for k in sent} == sent
    assert response.headers.get("x-modelyard-max-tokens") == said


async def test_a_server_without_a_ceiling_is_sent_what_the_client_asked(
    proxy: httpx.AsyncClient, upstream: Seen
) -> None:
    response = await proxy.post("/v1/chat/completions", json=chat(max_tokens=5000))
    assert response.status_code == 200
    assert upstream.chats[-1]["max_tokens"] == 5000
    assert "x-modelyard-max-tokens" not in response.headers


async def test_completions_are_capped_too(proxy: httpx.AsyncClient, upstream: Seen) -> None:
    response = await proxy.post("/v1/completions", json={"model": "a", "prompt": "once upon"})
    assert response.status_code == 200, response.text  # the fake answers any path the same way
    assert upstream.chats[-1]["max_tokens"] == 100
    assert response.headers["x-modelyard-max-tokens"] == "100"


@pytest.mark.parametrize("value", [-1, 0, 1.5, "100", True, [100]])
@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
async def test_a_max_tokens_that_is_no_positive_integer_is_a_400(
    proxy: httpx.AsyncClient, key: str, value: Any
) -> None:
    response = await proxy.post("/v1/chat/completions", json=chat(**{key: value}))
    assert error_of(response, 400)["param"] == key
