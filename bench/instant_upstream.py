"""An OpenAI-compatible server that answers at once: the fast upstream of `make bench-compare`.

A benchmark harness, never a stand-in for vLLM in tests: tests drive real vLLM, and
harness/fake_vllm.py is the one test double for what vLLM cannot show on cue. This server
exists so that a proxy in front of it shows its own cost, with no generation time to hide it.

It answers `POST /v1/chat/completions` (a fixed one-word answer; with `"stream": true`, a few
server-sent chunks and `data: [DONE]`, chunked as uvicorn's streams are, all written at once),
`GET /v1/models` and `GET /health`, echoing the request's model name. HTTP/1.1 keep-alive on a
bare asyncio Protocol over uvloop, with answers built once per model name: no framework, so that
it is never the bottleneck (bench/compare.py measures its ceiling and prints it).

    python bench/instant_upstream.py --port P [--host 127.0.0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import time
from typing import Any, cast

CHUNKS = ("Hello", ",", " world")  # a stream's content deltas


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def completion(model: str) -> bytes:
    body = {
        "id": "chatcmpl-instant",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ok"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return _response("200 OK", "application/json", json.dumps(body).encode())


def stream(model: str) -> bytes:
    created = int(time.time())

    def event(delta: dict[str, Any], finish: str | None) -> bytes:
        chunk = {
            "id": "chatcmpl-instant",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return _chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    events = [event({"role": "assistant", "content": ""}, None)]
    events += [event({"content": text}, None) for text in CHUNKS]
    events += [event({}, "stop"), _chunk(b"data: [DONE]\n\n"), b"0\r\n\r\n"]
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    return head + b"".join(events)


HEALTH = _response("200 OK", "application/json", b"{}")
NOT_FOUND = _response(
    "404 Not Found", "application/json", b'{"error": {"message": "not found", "code": 404}}'
)
BAD_REQUEST = _response(
    "400 Bad Request", "application/json", b'{"error": {"message": "bad request", "code": 400}}'
)


class Answers:
    """Every answer's bytes, built once per (model, streamed)."""

    def __init__(self, default_model: str) -> None:
        self.models = _response(
            "200 OK",
            "application/json",
            json.dumps(
                {"object": "list", "data": [{"id": default_model, "object": "model"}]}
            ).encode(),
        )
        self._built: dict[tuple[str, bool], bytes] = {}

    def chat(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
            key = (str(request.get("model", "")), request.get("stream") is True)
        except (ValueError, AttributeError):
            return BAD_REQUEST
        answer = self._built.get(key)
        if answer is None:
            answer = self._built[key] = (stream if key[1] else completion)(key[0])
        return answer

    def answer(self, method: bytes, target: bytes, body: bytes) -> bytes:
        path = target.split(b"?", 1)[0]
        if method == b"POST" and path == b"/v1/chat/completions":
            return self.chat(body)
        if method == b"GET" and path == b"/health":
            return HEALTH
        if method == b"GET" and path == b"/v1/models":
            return self.models
        return NOT_FOUND


class Http(asyncio.Protocol):
    """HTTP/1.1 keep-alive; requests on one connection are answered in order."""

    def __init__(self, answers: Answers) -> None:
        self.answers = answers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it
        sock = self.transport.get_extra_info("socket")
        if sock is not None:  # one write per answer, but never leave it to delayed ACKs
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and (request := self._next_request()) is not None:
            method, target, body, close = request
            self.transport.write(self.answers.answer(method, target, body))
            if close:
                self.transport.close()
                self.transport = None

    def _next_request(self) -> tuple[bytes, bytes, bytes, bool] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(self.buffer[:end]).lower()
        request_line = bytes(self.buffer[: self.buffer.find(b"\r\n")])
        start = end + 4
        if b"\r\ntransfer-encoding: chunked" in head:
            decoded = _dechunk(self.buffer, start)
            if decoded is None:
                return None
            body, consumed = decoded
        else:
            at = head.find(b"\r\ncontent-length:")
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17 : stop if stop >= 0 else None]) if at >= 0 else 0
            if len(self.buffer) < start + length:
                return None
            body, consumed = bytes(self.buffer[start : start + length]), start + length
        del self.buffer[:consumed]
        parts = request_line.split(b" ")
        return parts[0], parts[1], body, b"\r\nconnection: close" in head

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def _dechunk(buffer: bytearray, at: int) -> tuple[bytes, int] | None:
    """A chunked body starting at `at`: (body, end offset), or None until all of it is here."""
    parts = []
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        if len(buffer) < line_end + 2 + size + 2:
            return None
        parts.append(bytes(buffer[line_end + 2 : line_end + 2 + size]))
        at = line_end + 2 + size + 2
        if size == 0:
            return b"".join(parts), at


async def serve(host: str, port: int, model: str) -> None:
    loop = asyncio.get_running_loop()
    answers = Answers(model)
    server = await loop.create_server(lambda: Http(answers), host, port, backlog=2048)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="instant", help="the name /v1/models lists")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # still correct without it, only slower
        asyncio.run(serve(args.host, args.port, args.model))
    else:
        uvloop.run(serve(args.host, args.port, args.model))


if __name__ == "__main__":
    main()
