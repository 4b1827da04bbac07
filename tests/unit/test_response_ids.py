"""The proxy's memory of which server process holds each Responses API response: bounded in
count and in time (a fake clock), learnt from a JSON answer or from a stream's first event
however the chunks split it, and never from a refusal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable

from starlette.responses import JSONResponse, Response, StreamingResponse

from modelyard_config.proxy import ResponseMemory
from proxy.response_ids import SCAN_BYTES, Holder, ResponseIds

A = Holder("a", "101@1700000000.0")
B = Holder("b", "202@1700000001.0")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def memory(remember: int = 100, ttl: float = 60.0, clock: Clock | None = None) -> ResponseIds:
    return ResponseIds(ResponseMemory(remember=remember, ttl=ttl), clock or Clock())


def test_a_remembered_id_names_its_holder_and_an_unknown_one_none() -> None:
    ids = memory()
    ids.remember("resp_1", A)
    ids.remember("resp_2", B)
    assert (ids.holder("resp_1"), ids.holder("resp_2"), ids.holder("resp_3")) == (A, B, None)
    ids.remember("resp_1", B)  # the same id again: the latest holder
    assert ids.holder("resp_1") == B and len(ids) == 2


def test_past_remember_ids_the_oldest_is_forgotten_first() -> None:
    ids = memory(remember=3)
    for n in range(1, 4):
        ids.remember(f"resp_{n}", A)
    ids.remember("resp_1", A)  # remembered again: now the newest
    ids.remember("resp_4", B)
    assert len(ids) == 3
    assert ids.holder("resp_2") is None
    assert [ids.holder(f"resp_{n}") for n in (1, 3, 4)] == [A, A, B]


def test_an_id_is_forgotten_after_ttl_seconds() -> None:
    clock = Clock()
    ids = memory(ttl=60.0, clock=clock)
    ids.remember("resp_1", A)
    clock.now += 30
    ids.remember("resp_2", B)
    clock.now += 29.9
    assert ids.holder("resp_1") == A
    clock.now += 0.1  # resp_1's 60 s are up; resp_2 has 30 s left
    assert (ids.holder("resp_1"), ids.holder("resp_2")) == (None, B)
    assert len(ids) == 1  # the expired one no longer takes room


def test_remember_zero_remembers_nothing() -> None:
    ids = memory(remember=0)
    ids.remember("resp_1", A)
    ids.learn(JSONResponse({"id": "resp_2", "object": "response"}), A)
    assert (ids.holder("resp_1"), ids.holder("resp_2"), len(ids)) == (None, None, 0)


# --- learning from answers -------------------------------------------------------------------


def test_the_id_of_a_json_answer_is_learnt() -> None:
    ids = memory()
    ids.learn(JSONResponse({"id": "resp_abc", "object": "response", "output": []}), A)
    assert ids.holder("resp_abc") == A


def test_a_refusal_or_an_answer_without_an_id_teaches_nothing() -> None:
    ids = memory()
    for status in (400, 404, 500, 503):
        ids.learn(JSONResponse({"id": f"resp_{status}", "error": {}}, status_code=status), A)
    ids.learn(JSONResponse(["resp_list"]), A)
    ids.learn(JSONResponse({"id": 7}), A)
    ids.learn(JSONResponse({"id": "r" * 129}), A)  # no id is that long
    ids.learn(Response(b"{not json", media_type="application/json"), A)
    assert len(ids) == 0


def created(response_id: str) -> bytes:
    event = {"type": "response.created", "response": {"id": response_id, "status": "queued"}}
    return f"event: response.created\ndata: {json.dumps(event)}\n\n".encode()


DELTA = b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta"}\n\n'


async def _chunks(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def relayed(ids: ResponseIds, chunks: list[bytes], status: int = 200) -> bytes:
    """Learns from a stream as the proxy does, then reads it as the client would."""
    response = StreamingResponse(_chunks(chunks), status, media_type="text/event-stream")
    ids.learn(response, A)
    got = b""
    async for chunk in response.body_iterator:
        got += chunk if isinstance(chunk, bytes) else str(chunk).encode()
    return got


async def test_a_streams_id_is_learnt_from_its_first_event() -> None:
    ids = memory()
    chunks = [created("resp_s1"), DELTA, created("resp_not_this_one")]
    assert await relayed(ids, chunks) == b"".join(chunks)  # the client gets every byte
    assert ids.holder("resp_s1") == A
    assert ids.holder("resp_not_this_one") is None


async def test_a_streams_id_split_across_chunks_is_learnt() -> None:
    ids = memory()
    first = created("resp_0123456789abcdef")
    cut = first.index(b"resp_0123") + 7  # inside the id itself
    chunks = [first[:10], first[10:cut], first[cut:], DELTA]
    assert await relayed(ids, chunks) == b"".join(chunks)
    assert ids.holder("resp_0123456789abcdef") == A
    assert ids.holder("resp_01") is None and len(ids) == 1


async def test_no_id_is_looked_for_past_the_first_scan_bytes() -> None:
    ids = memory()
    padding = b": " + b"x" * SCAN_BYTES + b"\n\n"  # an SSE comment, past the scanned bytes
    chunks = [DELTA, padding, created("resp_late")]
    assert await relayed(ids, chunks) == b"".join(chunks)
    assert len(ids) == 0


async def test_a_refused_stream_teaches_nothing() -> None:
    ids = memory()
    await relayed(ids, [created("resp_refused")], status=429)
    assert len(ids) == 0
