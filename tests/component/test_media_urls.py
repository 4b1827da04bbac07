"""Media parts given as http(s) or data: URLs, read by the proxy for the degradations (a video
to cut into frames, audio to transcribe): a real aiohttp server on loopback serves them.

What these lock down (the hardening issue): a body read whole in chunks up to the limit (it
was cut at whatever was buffered), 413 at the limit or from a Content-Length over it, one
total fetch timeout; base64 sized before it is decoded; one resolution per connection, so a
name that rebinds to loopback after the check never reaches loopback; malformed URLs and odd
IP forms a 400 naming the param; and one message for every fetch failure, so the proxy cannot
be used to tell a closed port from a filtered one or a 404 (the detail goes to its log).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from harness import loopback
from modelyard_config.limits import Limits
from proxy.compose import read_audio
from proxy.errors import BadRequestError, PayloadTooLargeError
from proxy.media_hosts import GuardedResolver
from proxy.media_urls import FETCH_FAILED, MediaReader, decode_base64

LIMITS = Limits(media_fetch_timeout=5.0)
CHUNK = b"0123456789abcdef" * 256  # 4 KiB
PUBLIC = "93.184.216.34"


@dataclass
class Media:
    url: str
    port: int
    hits: list[str] = field(default_factory=list)
    never: asyncio.Event = field(default_factory=asyncio.Event)  # set only at teardown


@pytest.fixture
async def media() -> AsyncIterator[Media]:
    served = Media("", 0)

    async def note(request: web.Request) -> web.Response:
        served.hits.append(request.path)
        return web.Response(body=b"ID3 audio")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 2048)

    async def trickle(request: web.Request) -> web.StreamResponse:
        """Eight chunks, chunked encoding, with pauses: more than one read's worth."""
        served.hits.append(request.path)
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(int(request.query.get("chunks", "8"))):
            await response.write(CHUNK)
            await asyncio.sleep(0.01)  # the server pauses; the test waits on nothing
        await response.write_eof()
        return response

    async def declared(request: web.Request) -> web.StreamResponse:
        """Declares a body far over any test limit, sends one chunk, then stalls."""
        response = web.StreamResponse()
        response.content_length = 2**30
        await response.prepare(request)
        await response.write(CHUNK)
        await served.never.wait()
        return response

    async def stalled(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await served.never.wait()
        return response

    async def teapot(request: web.Request) -> web.Response:
        return web.Response(status=418)

    async def hop(request: web.Request) -> web.Response:
        left = int(request.match_info["left"])
        target = "/note.mp3" if left == 0 else f"/hop/{left - 1}"
        raise web.HTTPFound(target)

    app = web.Application()
    app.router.add_get("/note.mp3", note)
    app.router.add_get("/huge.wav", huge)
    app.router.add_get("/trickle.mp4", trickle)
    app.router.add_get("/declared.mp4", declared)
    app.router.add_get("/stalled.mp4", stalled)
    app.router.add_get("/hop/{left}", hop)
    app.router.add_get("/teapot", teapot)
    async with loopback.serving(app) as url:
        served.url, served.port = url, int(url.rsplit(":", 1)[1])
        yield served
        served.never.set()


@pytest.fixture
async def reader() -> AsyncIterator[MediaReader]:
    # the test server is on loopback, which the proxy refuses unless told otherwise
    async with MediaReader(LIMITS, allow_private=True) as reader:
        yield reader


async def test_audio_urls_are_fetched_with_their_format(media: Media, reader: MediaReader) -> None:
    part = {"type": "audio_url", "audio_url": {"url": f"{media.url}/note.mp3"}}
    assert await read_audio(reader, part, "m") == (b"ID3 audio", "mp3")
    missing = {"type": "audio_url", "audio_url": {"url": f"{media.url}/absent.wav"}}
    with pytest.raises(BadRequestError) as caught:
        await read_audio(reader, missing, "messages[0].content[0]")
    assert caught.value.param == "messages[0].content[0].audio_url.url"


async def test_a_body_sent_in_chunks_with_pauses_comes_back_whole(
    media: Media, reader: MediaReader
) -> None:
    got = await reader.read(f"{media.url}/trickle.mp4", "p", 64 * 1024)
    assert got == CHUNK * 8


async def test_a_body_over_the_limit_is_a_413_however_it_arrives(
    media: Media, reader: MediaReader
) -> None:
    with pytest.raises(PayloadTooLargeError):
        await reader.read(f"{media.url}/huge.wav", "p", 1024)
    with pytest.raises(PayloadTooLargeError) as caught:  # chunked: no length to go by
        await reader.read(f"{media.url}/trickle.mp4?chunks=8", "p", 3 * len(CHUNK))
    assert caught.value.param == "p" and caught.value.status == 413
    # a Content-Length over the limit is refused at once: the stalled body is never awaited
    async with asyncio.timeout(4):
        with pytest.raises(PayloadTooLargeError):
            await reader.read(f"{media.url}/declared.mp4", "p", 64 * 1024)


async def test_a_fetch_that_outlasts_the_fetch_timeout_is_a_400(media: Media) -> None:
    async with MediaReader(Limits(media_fetch_timeout=0.2), allow_private=True) as reader:
        with pytest.raises(BadRequestError) as caught:
            await reader.read(f"{media.url}/stalled.mp4", "p", 1024)
    assert caught.value.message == FETCH_FAILED.format(where="p")


async def test_every_fetch_failure_is_one_message_and_the_detail_is_logged(
    media: Media, reader: MediaReader, caplog: pytest.LogCaptureFixture
) -> None:
    failing = [
        "http://127.0.0.1:9/none.mp4",  # the discard port: nothing listens
        f"{media.url}/absent.wav",  # 404
        f"{media.url}/teapot",  # 418
        f"{media.url}/hop/9",  # more redirects than followed
    ]
    messages = set()
    with caplog.at_level(logging.INFO, logger="modelyard.proxy"):
        for url in failing:
            with pytest.raises(BadRequestError) as caught:
                await reader.read(url, "p", 1024)
            assert caught.value.status == 400
            messages.add(caught.value.message)
    assert messages == {FETCH_FAILED.format(where="p")}
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "modelyard.proxy")
    assert "404" in logged and "418" in logged and "127.0.0.1:9" in logged


async def test_redirects_are_followed_up_to_a_few_hops(media: Media, reader: MediaReader) -> None:
    assert await reader.read(f"{media.url}/hop/2", "p", 1024) == b"ID3 audio"


@pytest.mark.parametrize(
    "url",
    [
        "http://h:abc/a.mp4",
        "http://h:99999/a.mp4",
        "http://h:0/a.mp4",
        "http:///a.mp4",
        "http://user:pw@example.com/a.mp4",
        "http://example.com@127.0.0.1/a.mp4",
        "http://evil.com\\@127.0.0.1/a.mp4",
        "http://bücher.de/a.mp4",
        "http://exa\x00mple.com/a.mp4",
        "http://example.com/a\x00.mp4",
        "http://exa mple.com/a.mp4",
    ],
)
async def test_a_malformed_url_is_a_400_naming_the_param(url: str, reader: MediaReader) -> None:
    with pytest.raises(BadRequestError) as caught:
        await reader.read(url, "messages[0].content[2]", 1024)
    assert caught.value.status == 400
    assert caught.value.param == "messages[0].content[2]"


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "2130706433",  # decimal 127.0.0.1
        "0x7f000001",
        "0177.0.0.1",  # octal
        "127.1",
        "127.0.0.1.",
    ],
)
async def test_private_and_oddly_written_addresses_are_refused(media: Media, host: str) -> None:
    async with MediaReader(LIMITS, allow_private=False) as reader:
        with pytest.raises(BadRequestError) as caught:
            await reader.read(f"http://{host}:{media.port}/note.mp3", "p", 1024)
    assert caught.value.param == "p" and caught.value.status == 400
    assert media.hits == []  # refused before any request was made


class FixedDns(AbstractResolver):
    """A DNS double: there is no DNS server here to point a test name at, so this answers
    each lookup from a list (the last answer repeats) and counts the lookups."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        found = ResolveResult(
            hostname=host, host=address, port=port, family=socket.AF_INET, proto=0, flags=0
        )
        return [found]

    async def close(self) -> None:
        pass


async def test_a_name_that_resolves_to_loopback_is_refused_with_the_one_message(
    media: Media,
) -> None:
    dns = FixedDns("127.0.0.1")
    async with MediaReader(LIMITS, allow_private=False, resolver=dns) as reader:
        with pytest.raises(BadRequestError) as caught:
            await reader.read(f"http://media.example:{media.port}/note.mp3", "p", 1024)
    assert caught.value.message == FETCH_FAILED.format(where="p")
    assert media.hits == [] and dns.asked == 1
    async with MediaReader(LIMITS, allow_private=True, resolver=FixedDns("127.0.0.1")) as reader:
        got = await reader.read(f"http://media.example:{media.port}/note.mp3", "p", 1024)
    assert got == b"ID3 audio"  # the connection went where the resolver said


async def test_a_rebinding_name_is_only_ever_dialled_at_the_address_checked(
    media: Media,
) -> None:
    """The name answers a public address first and loopback after (DNS rebinding). The check
    and the connection share one lookup, so the first fetch dials the public address (the
    socket factory records it and refuses, so nothing leaves the box) and the second is
    refused by the guard: loopback is never dialled."""
    dialled: list[str] = []

    def record(addr_info: tuple[object, ...]) -> socket.socket:
        dialled.append(str(addr_info[4][0]))  # type: ignore[index]
        raise ConnectionRefusedError("the test dials nothing")

    dns = FixedDns(PUBLIC, "127.0.0.1")
    guarded = GuardedResolver(allow_private=False, resolver=dns)
    connector = aiohttp.TCPConnector(resolver=guarded, use_dns_cache=False, socket_factory=record)
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(2):
            with pytest.raises(aiohttp.ClientError):
                await session.get(f"http://rebind.example:{media.port}/note.mp3")
    assert dialled == [PUBLIC] and dns.asked == 2
    assert media.hits == []


def test_base64_is_sized_before_it_is_decoded() -> None:
    encoded = base64.b64encode(b"x" * 1025).decode()
    with pytest.raises(PayloadTooLargeError) as caught:
        decode_base64(encoded, "p", 1024)
    assert caught.value.param == "p"
    with pytest.raises(PayloadTooLargeError):  # sized first: a 413, not "invalid base64"
        decode_base64("!" * 4000, "p", 1024)
    assert decode_base64(base64.b64encode(b"x" * 1024).decode(), "p", 1024) == b"x" * 1024
    assert decode_base64(base64.b64encode(b"x" * 1022).decode(), "p", 1022) == b"x" * 1022


async def test_data_urls_over_the_limit_are_a_413_before_decoding(reader: MediaReader) -> None:
    url = "data:video/mp4;base64," + base64.b64encode(b"v" * 4096).decode()
    with pytest.raises(PayloadTooLargeError):
        await reader.read(url, "p", 1024)
    assert await reader.read(url, "p", 4096) == b"v" * 4096
