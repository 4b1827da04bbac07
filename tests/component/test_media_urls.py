"""Media parts given as http(s) URLs are fetched by the proxy for the degradations (a video to
cut into frames, audio to transcribe): a real aiohttp server on loopback serves them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from harness import loopback
from proxy.compose import read_audio
from proxy.errors import BadRequestError, PayloadTooLargeError
from proxy.media_urls import MediaReader

# this test server is on loopback, which the proxy refuses unless told otherwise
ALLOW_PRIVATE = True
HITS: list[str] = []


@pytest.fixture
async def media() -> AsyncIterator[str]:
    async def note(request: web.Request) -> web.Response:
        HITS.append(request.path)
        return web.Response(body=b"ID3 audio")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 2048)

    app = web.Application()
    app.router.add_get("/note.mp3", note)
    app.router.add_get("/huge.wav", huge)
    async with loopback.serving(app) as url:
        yield url


async def test_audio_urls_are_fetched_with_their_format(media: str) -> None:
    async with aiohttp.ClientSession() as session:
        media_reader = MediaReader(session, ALLOW_PRIVATE)
        part = {"type": "audio_url", "audio_url": {"url": f"{media}/note.mp3"}}
        assert await read_audio(media_reader, part, "m") == (b"ID3 audio", "mp3")
        missing = {"type": "audio_url", "audio_url": {"url": f"{media}/absent.wav"}}
        with pytest.raises(BadRequestError) as caught:
            await read_audio(media_reader, missing, "messages[0].content[0]")
        assert "404" in caught.value.message
        assert caught.value.param == "messages[0].content[0].audio_url.url"


async def test_a_fetch_over_the_limit_is_a_413(media: str) -> None:
    async with aiohttp.ClientSession() as session:
        media_reader = MediaReader(session, ALLOW_PRIVATE)
        with pytest.raises(PayloadTooLargeError):
            await media_reader.read(f"{media}/huge.wav", "p", 1024)
        unreachable = "http://127.0.0.1:9/none.mp4"  # the discard port: nothing listens
        with pytest.raises(BadRequestError) as caught:
            await media_reader.read(unreachable, "p", 1024)
        assert "cannot fetch" in caught.value.message


async def test_loopback_and_private_hosts_are_refused_by_default(media: str) -> None:
    HITS.clear()
    async with aiohttp.ClientSession() as session:
        media_reader = MediaReader(session, allow_private=False)
        for url in (f"{media}/note.mp3", "http://10.1.2.3/a.wav", "http://169.254.169.254/x"):
            with pytest.raises(BadRequestError) as caught:
                await media_reader.read(url, "p", 1024)
            assert "fetch_private_media" in caught.value.message
    assert HITS == []  # refused before any request was made
