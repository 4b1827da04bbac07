"""A small server that speaks the parts of vLLM's HTTP API the supervisor uses, on cue.

A test double, used only where real vLLM cannot show the behaviour here:
- sleep mode: vLLM's CPU build refuses it ("Sleep mode is not supported on current platform"),
  so `/sleep`, `/wake_up`, `/is_sleeping` and `/collective_rpc` follow vLLM's documented API
  instead (docs/features/sleep_mode.md, read for vLLM 0.32; supervisor/vllm_api.py says
  more): `/sleep?level=1` keeps the weights (in host RAM, in vLLM), `/sleep?level=2` drops
  them; a `/sleep` while asleep does nothing, as vLLM's executor does; `/wake_up` takes
  `tags=weights` and `tags=kv_cache` (repeatable; none: both), and `POST /collective_rpc`
  with `{"method": "reload_weights"}` loads dropped weights again once their memory is
  back. Woken from level 2 without that reload, it answers gibberish ("!!!!"), as vLLM does
  (vllm-project/vllm#29341). Beyond vLLM's `{"is_sleeping": ...}`, `/is_sleeping` says, for
  the tests, `level` (0 awake), `weights` (loaded, in host RAM, dropped, or garbage) and
  `reloads` (how many reload_weights calls it took);
- failures on cue: dying N seconds after becoming ready, or going silent (health stops
  answering while the process lives), which a real server does only by accident.
It also serves `/metrics` with vLLM's gauge names and a minimal `/v1/completions`, and, with
`--chat-reply WORD`, a `/v1/chat/completions` that answers WORD: an LLM that reliably names
an intent for the classifier's triage stage, which the tiny random-weight models cannot be.
With `--echo`, a chat is answered with the text of its last user turn: a test can then see
what the proxy made of a request (a transcript in place of audio), which gibberish hides.
For the fault suite: `--fail-status N` answers every API request (`/v1/*`, `/v2/*`) with HTTP
N, in the API's error shape, and `--ready-after S` keeps /health at 503 for S seconds (a slow
load, to be killed mid-way). For a remote server's failures (issue 17), which a provider shows
only when it is having a bad day: `--retry-after S` puts `Retry-After: S` on those answers (a
429 that says when to come back); `--hang` reads every API request and never answers it (a
provider that accepts a call and goes silent: the first-byte timeout's case, which /health
does not show, so a local server with it still starts); `--break-stream` answers a
`"stream": true` request with 200 and event-stream headers, then closes the connection
before any chunk (a stream broken before its first byte, which must fall back; a request
that does not stream is answered as without it). For the drain tests: `--stream-delay S` answers a
`"stream": true` chat or completion with `--stream-tokens N` server-sent chunks S seconds
apart, then [DONE]: a long generation on cue, which the tiny models finish too fast to shut a
proxy down in the middle of. A stream is chunked HTTP/1.1, as uvicorn's are, so a stream cut
by a kill reads as cut, not as ended. With `--audio` it also answers
/v1/audio/transcriptions and /translations (a fixed text) and /v1/audio/speech (a short WAV),
so that `make fuzz` reaches every endpoint with an upstream that is up: a 5xx is then the
proxy's own. The rest of the surface, in vLLM's shapes, for the same reason and for the fault
tests of each API:
- `/v1/embeddings` (a 16-float unit vector per input, from a hash of it; `dimensions` cuts it,
  `encoding_format: base64` is little-endian float32), `/v1/rerank` and `/v2/rerank`
  (`results` by relevance: the share of the query's words a document holds), `/v1/score`;
- `/v1/responses`: a Response (the chat's answer), kept in memory, so that
  `GET /v1/responses/{id}` finds it and a `previous_response_id` it lacks is a 404, as in
  vLLM; `"background": true` keeps it `queued` (nothing runs) until
  `POST /v1/responses/{id}/cancel`, which refuses a finished one with vLLM's 400. A stream
  is the Responses API's events: created, in_progress, the output item and part, one
  `response.output_text.delta` per token, their `.done` events, completed;
- Anthropic's `/v1/messages` (a stream is message_start, content_block_start, one
  text_delta per token, content_block_stop, message_delta, message_stop) and
  `/v1/messages/count_tokens` (a word count).
Unlike chat, these stream whenever asked (`"stream": true`): `--stream-tokens` tokens
`t0 t1 ...`, `--stream-delay` apart (none by default). A plain answer's text is the last user
turn with `--echo`, the `--chat-reply`, else "ok". A body that is not a JSON object gets
vLLM's 400, not a dropped connection.
With `--keep-alive` it answers in HTTP/1.1 and keeps each connection open, as vLLM's uvicorn
does: benchmarks use it (bench/proxy_load.py), so that the proxy's connection pool is measured
as it is in front of vLLM, not one new connection per request. Without it, HTTP/1.0: every
connection closes after its answer (what the tests have always run against).
Standard library only, so it starts in milliseconds.

    python fake_vllm.py --port P [--die-after S] [--hang-after S] [--exit-code N] [--busy]
                        [--chat-reply WORD] [--echo] [--fail-status N] [--ready-after S]
                        [--stream-delay S] [--stream-tokens N] [--audio] [--keep-alive]
                        [--retry-after S] [--hang] [--break-stream]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import math
import os
import struct
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GENERATE = {"/v1/completions": "text_completion", "/v1/chat/completions": "chat.completion.chunk"}
POOLING = frozenset({"/v1/embeddings", "/v1/rerank", "/v2/rerank", "/v1/score"})
RESPONSES = "/v1/responses"
MESSAGES = "/v1/messages"
COUNT_TOKENS = "/v1/messages/count_tokens"
API = ("/v1/", "/v2/")  # what --fail-status, --hang and --break-stream act on (not /health)
DIMENSIONS = 16  # an embedding's length when `dimensions` does not shorten it

Event = tuple[str, dict[str, Any]]


class State:
    def __init__(self) -> None:
        self.busy = False
        self.asleep_tags: set[str] = set()  # memory tags released by a sleep: weights, kv_cache
        self.level = 0  # what the last sleep was; 0 once every tag is awake again
        self.weights = "loaded"  # or "in host RAM" (level 1), "dropped" (level 2), "garbage"
        self.reloads = 0
        self.served = 0
        self.hang_at: float | None = None
        self.chat_reply: str | None = None
        self.echo = False
        self.fail_status: int | None = None
        self.retry_after: str | None = None  # the Retry-After of a --fail-status answer
        self.hang = False
        self.break_stream = False
        self.ready_at = 0.0
        self.stream_delay: float | None = None
        self.stream_tokens = 10
        self.audio = False
        self.responses: dict[str, dict[str, Any]] = {}  # stored Responses API responses, by id

    @property
    def sleeping(self) -> bool:
        return bool(self.asleep_tags)

    def sleep(self, level: int) -> None:
        if self.sleeping:
            return  # vLLM's executor: "Executor is already sleeping." and nothing else
        self.asleep_tags = {"weights", "kv_cache"}
        self.level = level
        self.weights = "in host RAM" if level == 1 else "dropped"

    def wake(self, tags: list[str]) -> None:
        for tag in tags or ["weights", "kv_cache"]:
            if tag == "weights" and "weights" in self.asleep_tags:
                # memory mapped again: the host copy back in, or empty after level 2
                self.weights = "loaded" if self.weights == "in host RAM" else "garbage"
            self.asleep_tags.discard(tag)
        if not self.asleep_tags:
            self.level = 0

    def reload_weights(self) -> str | None:
        """None once reloaded; else why not (the memory is not mapped: vLLM would crash)."""
        if "weights" in self.asleep_tags:
            return "the weights' memory is asleep: wake_up?tags=weights first"
        self.weights = "loaded"
        self.reloads += 1
        return None

    def sleep_report(self) -> dict[str, Any]:
        return {
            "is_sleeping": self.sleeping,
            "level": self.level,
            "weights": self.weights,
            "reloads": self.reloads,
        }

    def completion(self, text: str) -> str:
        """What a generation says: gibberish when the weights are uninitialised memory."""
        return "!!!!" if self.weights == "garbage" else text

    def text(self, body: dict[str, Any]) -> str:
        """The answer to a chat-like request: its last user turn, the fixed reply, or "ok"."""
        if self.weights == "garbage":
            return self.completion("")
        if self.echo:
            return last_user_text(body)
        return self.chat_reply if self.chat_reply is not None else "ok"

    def pieces(self) -> list[str]:
        return [f"t{n} " for n in range(self.stream_tokens)]


def handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            print(fmt % args, flush=True)

        def reply(
            self,
            status: int,
            body: object,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            if isinstance(body, bytes):
                data = body
            else:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def fail(
            self, path: str, status: int, message: str, headers: dict[str, str] | None = None
        ) -> None:
            """An error in the shape of the API `path` belongs to, as vLLM answers it."""
            if path.startswith(MESSAGES):
                kind = "api_error" if status >= 500 else "invalid_request_error"
                said = {"type": kind, "message": message}
                self.reply(status, {"type": "error", "error": said}, headers=headers)
                return
            kind = "server_error" if status >= 500 else "invalid_request_error"
            error = {"message": message, "type": kind, "param": None, "code": status}
            self.reply(status, {"error": error}, headers=headers)

        def injected(self, path: str, status: int) -> None:
            """--fail-status's answer, with --retry-after's header when set."""
            later = {"retry-after": state.retry_after} if state.retry_after else None
            self.fail(path, status, "injected failure", later)

        def broken_stream(self) -> None:
            """200 and a stream's headers, then the connection closed before any chunk: chunked,
            so the client reads a cut stream, not an empty one that ended."""
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True

        def not_found(self, response_id: str) -> None:
            message = f"Response with id '{response_id}' not found."
            error = {"message": message, "type": "invalid_request_error", "code": 404}
            self.reply(404, {"error": {**error, "param": "response_id"}})

        def events(self, events: Iterator[Event], named: bool, delay_on: str) -> None:
            """Server-sent events, chunked as uvicorn sends them (HTTP/1.1, then closed): a
            stream cut short lacks its last chunk, so a client sees it was cut, not ended.
            `named`: an `event:` line before each data line (the Responses and Anthropic wires).
            Sleeps --stream-delay after each event of type `delay_on`."""
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("connection", "close")
            self.end_headers()
            for name, data in events:
                line = f"event: {name}\n" if named else ""
                payload = "[DONE]" if name == "[DONE]" else json.dumps(data)
                chunk = f"{line}data: {payload}\n\n".encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                if name == delay_on:
                    time.sleep(state.stream_delay or 0)
            self.wfile.write(b"0\r\n\r\n")
            state.served += 1

        def do_GET(self) -> None:
            if state.hang_at is not None and time.monotonic() >= state.hang_at:
                time.sleep(3600)  # alive but silent, like a wedged engine
            path = self.path.split("?")[0]
            if path == "/health":
                ready = time.monotonic() >= state.ready_at
                self.reply(200 if ready else 503, {})
            elif path == "/is_sleeping":
                self.reply(200, state.sleep_report())
            elif path == "/metrics":
                text = (
                    f'vllm:num_requests_running{{model_name="fake"}} {int(state.busy)}.0\n'
                    'vllm:num_requests_waiting{model_name="fake"} 0.0\n'
                    f'vllm:request_success_total{{model_name="fake"}} {state.served}.0\n'
                )
                self.reply(200, text, "text/plain")
            elif state.hang and path.startswith(API):
                time.sleep(3600)  # a provider gone silent: the caller's timeout ends it
            elif state.fail_status and path.startswith(API):
                self.injected(path, state.fail_status)
            elif path.startswith(RESPONSES + "/"):
                response_id = path.removeprefix(RESPONSES + "/")
                stored = state.responses.get(response_id)
                if stored is None:
                    self.not_found(response_id)
                else:
                    self.reply(200, stored)
            else:
                self.reply(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            if state.hang and path.startswith(API):
                time.sleep(3600)  # read, never answered: the caller's timeout ends it
                return
            if state.fail_status and path.startswith(API):
                self.injected(path, state.fail_status)
                return
            if state.audio and path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
                self.reply(200, {"text": "fake transcript"})
                return
            if state.audio and path == "/v1/audio/speech":
                self.reply(200, silence_wav(), "audio/wav")
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self.reply(400, {"error": {"message": "not a JSON object", "type": "BadRequest"}})
                return
            if state.break_stream and path.startswith(API) and body.get("stream") is True:
                self.broken_stream()
                return
            query = parse_qs(urlsplit(self.path).query)
            if path == "/sleep":
                level = query.get("level", ["1"])[0]
                if level not in ("1", "2"):
                    self.fail(path, 400, f"this fake sleeps at level 1 or 2, not {level}")
                    return
                state.sleep(int(level))
                self.reply(200, state.sleep_report())
            elif path == "/wake_up":
                state.wake(query.get("tags", []))
                self.reply(200, state.sleep_report())
            elif path == "/collective_rpc":
                self.collective_rpc(body)
            elif path in POOLING:
                self.pool(path, body)
            elif path == RESPONSES:
                self.create_response(body)
            elif path.startswith(RESPONSES + "/") and path.endswith("/cancel"):
                self.cancel_response(path.removeprefix(RESPONSES + "/").removesuffix("/cancel"))
            elif path == MESSAGES:
                self.message(body)
            elif path == COUNT_TOKENS:
                self.reply(200, {"input_tokens": words(chat_text(body))})
            elif path in GENERATE and body.get("stream") and state.stream_delay is not None:
                chunks = chat_chunks(GENERATE[path], body.get("model"), state.pieces())
                self.events(chunks, False, "chunk")
            elif path == "/v1/completions":
                if state.sleeping:
                    self.reply(503, {"error": {"message": "asleep"}})
                    return
                state.served += 1
                text = state.completion("ok")
                self.reply(
                    200,
                    {
                        "object": "text_completion",
                        "model": body.get("model"),
                        "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                    },
                )
            elif path == "/v1/chat/completions" and (state.chat_reply is not None or state.echo):
                state.served += 1
                message = {"role": "assistant", "content": state.text(body)}
                self.reply(
                    200,
                    {
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    },
                )
            else:
                self.reply(404, {"error": {"message": "not found"}})

        def collective_rpc(self, body: dict[str, Any]) -> None:
            """vLLM's dev route runs a worker method by name; this fake knows one."""
            method = body.get("method")
            if method is None:
                self.fail("/collective_rpc", 400, "Missing 'method' in request body")
            elif method != "reload_weights":
                self.fail("/collective_rpc", 500, f"this fake has no worker method {method!r}")
            elif (problem := state.reload_weights()) is not None:
                self.fail("/collective_rpc", 500, problem)
            else:
                self.reply(200, {"results": [None]})

        def pool(self, path: str, body: dict[str, Any]) -> None:
            try:
                answer = pooled(path, body)
            except ValueError as exc:
                self.fail(path, 400, str(exc))
                return
            state.served += 1
            self.reply(200, answer)

        def create_response(self, body: dict[str, Any]) -> None:
            previous = body.get("previous_response_id")
            if previous is not None and str(previous) not in state.responses:
                self.not_found(str(previous))
                return
            if body.get("background"):
                created = response_object(body, "", "queued")
                state.responses[created["id"]] = created
                self.reply(200, created)
            elif body.get("stream"):
                final = response_object(body, "".join(state.pieces()), "completed")
                if body.get("store", True):
                    state.responses[final["id"]] = final
                self.events(response_events(final, state.pieces()), True, DELTA)
            else:
                state.served += 1
                final = response_object(body, state.text(body), "completed")
                if body.get("store", True):
                    state.responses[final["id"]] = final
                self.reply(200, final)

        def cancel_response(self, response_id: str) -> None:
            stored = state.responses.get(response_id)
            if stored is None:
                self.not_found(response_id)
            elif stored["status"] not in ("queued", "in_progress"):
                error = {"message": "Cannot cancel a synchronous response.", "code": 400}
                kind = {"type": "invalid_request_error", "param": "response_id"}
                self.reply(400, {"error": {**error, **kind}})
            else:
                stored["status"] = "cancelled"
                self.reply(200, stored)

        def message(self, body: dict[str, Any]) -> None:
            if body.get("stream"):
                final = message_object(body, "".join(state.pieces()))
                self.events(message_events(final, state.pieces()), True, "content_block_delta")
            else:
                state.served += 1
                self.reply(200, message_object(body, state.text(body)))

    return Handler


def last_user_text(body: dict[str, Any]) -> str:
    """The last user turn's text, from a chat's `messages`, Anthropic's `messages` or the
    Responses API's `input` (a string, or items)."""
    turns = body.get("messages")
    if isinstance(body.get("input"), str):
        return str(body["input"])
    if isinstance(body.get("input"), list):
        turns = body["input"]
    turns = turns if isinstance(turns, list) else []
    users = [m for m in turns if isinstance(m, dict) and m.get("role") == "user"]
    return content_text(users[-1].get("content") if users else "")


def content_text(content: object) -> str:
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict) and p.get("type") in TEXT_PARTS]
        return " ".join(str(p.get("text", "")) for p in parts)
    return str(content or "")


TEXT_PARTS = frozenset({"text", "input_text"})


def chat_text(body: dict[str, Any]) -> str:
    """All the text of a Messages request: its system prompt and every turn."""
    system = body.get("system")
    texts = [content_text(system) if system is not None else ""]
    turns = body.get("messages")
    for turn in turns if isinstance(turns, list) else []:
        texts.append(content_text(turn.get("content")) if isinstance(turn, dict) else "")
    return " ".join(texts)


def words(text: str) -> int:
    return max(1, len(text.split()))


def _id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex}"


def chat_chunks(kind: str, model: object, pieces: list[str]) -> Iterator[Event]:
    for piece in pieces:
        choice: dict[str, Any] = {"index": 0, "text": piece}
        if kind == "chat.completion.chunk":
            choice = {"index": 0, "delta": {"content": piece}}
        yield "chunk", {"id": "s1", "object": kind, "model": model, "choices": [choice]}
    yield "[DONE]", {}


# --- pooling: embeddings, rerank, score ---


def pooled(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The answer to a pooling request, or ValueError (vLLM's 400) for a body it cannot read."""
    if path == "/v1/embeddings":
        return embeddings(body)
    if path == "/v1/score":
        return score(body)
    return rerank(body)


def score(body: dict[str, Any]) -> dict[str, Any]:
    """`text_1` against each of `text_2` (one to many), or pairwise (as many on each side)."""
    first, second = texts(body.get("text_1"), "text_1"), texts(body.get("text_2"), "text_2")
    if len(first) == 1:
        first = first * len(second)
    if len(first) != len(second):
        raise ValueError("'text_1' and 'text_2' must hold one and many, or as many texts")
    pairs = enumerate(zip(first, second, strict=True))
    data = [{"index": i, "object": "score", "score": relevance(*p)} for i, p in pairs]
    return {**_listed("score-", body.get("model"), data), "usage": _usage(first + second)}


def rerank(body: dict[str, Any]) -> dict[str, Any]:
    query = body.get("query")
    if not isinstance(query, str):
        raise ValueError("'query' must be a string")
    documents = texts(body.get("documents"), "documents")
    scored = sorted(
        ((relevance(query, d), i, d) for i, d in enumerate(documents)), key=lambda s: (-s[0], s[1])
    )
    results = [{"index": i, "document": {"text": d}, "relevance_score": r} for r, i, d in scored]
    top_n = body.get("top_n")
    if isinstance(top_n, int) and top_n > 0:
        results = results[:top_n]
    usage = {"total_tokens": sum(words(t) for t in [query, *documents])}
    return {"id": _id("rerank-"), "model": body.get("model"), "usage": usage, "results": results}


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("input")
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        value = [value]  # one input as token ids
    items = [" ".join(map(str, v)) if isinstance(v, list) else v for v in _as_list(value, "input")]
    dims = body.get("dimensions") or DIMENSIONS
    if not isinstance(dims, int) or not 0 < dims <= DIMENSIONS:
        raise ValueError(f"'dimensions' must be between 1 and {DIMENSIONS}")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ValueError("'encoding_format' must be 'float' or 'base64'")
    data = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ValueError(f"'input[{i}]' must be a string or token ids")
        vector: Any = embed(item, dims)
        if encoding == "base64":
            vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"index": i, "object": "embedding", "embedding": vector})
    return {**_listed("embd-", body.get("model"), data), "usage": _usage(items)}


def embed(text: str, dims: int) -> list[float]:
    """A unit vector from a hash of `text`: the same text, the same vector."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(digest[i] - 127.5) / 127.5 for i in range(dims)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def relevance(query: str, document: str) -> float:
    """The share of the query's words the document holds."""
    asked = set(query.lower().split())
    return len(asked & set(document.lower().split())) / len(asked) if asked else 0.0


def texts(value: object, field: str) -> list[str]:
    """A string, or strings and `{"text": ...}` documents, as strings."""
    found = []
    for i, item in enumerate(_as_list(value, field)):
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise ValueError(f"'{field}[{i}]' must be a string")
        found.append(text)
    return found


def _as_list(value: object, field: str) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value:
        raise ValueError(f"'{field}' must be a string or a non-empty array")
    return value


def _listed(prefix: str, model: object, data: list[Any]) -> dict[str, Any]:
    created = int(time.time())
    return {"id": _id(prefix), "object": "list", "created": created, "model": model, "data": data}


def _usage(items: list[str]) -> dict[str, int]:
    tokens = sum(words(t) for t in items)
    return {"prompt_tokens": tokens, "total_tokens": tokens, "completion_tokens": 0}


# --- the Responses API ---

DELTA = "response.output_text.delta"


def response_object(body: dict[str, Any], text: str, status: str) -> dict[str, Any]:
    item_id = _id("msg_")
    part = {"type": "output_text", "text": text, "annotations": []}
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "completed"}
    output = [{**item, "content": [part]}] if status == "completed" else []
    asked, said = words(last_user_text(body)), words(text) if text else 0
    return {
        "id": _id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "model": body.get("model"),
        "status": status,
        "output": output,
        "previous_response_id": body.get("previous_response_id"),
        "usage": {"input_tokens": asked, "output_tokens": said, "total_tokens": asked + said},
    }


def response_events(final: dict[str, Any], pieces: list[str]) -> Iterator[Event]:
    """The events of a streamed response whose last state is `final`, numbered in order."""
    start = {**final, "status": "in_progress", "output": []}
    item = final["output"][0]
    part = item["content"][0]
    where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {**part, "text": ""}},
    ]
    events += [{"type": DELTA, **where, "delta": p, "logprobs": []} for p in pieces]
    events += [
        {"type": "response.output_text.done", **where, "text": part["text"], "logprobs": []},
        {"type": "response.content_part.done", **where, "part": part},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": final},
    ]
    for number, event in enumerate(events):
        yield event["type"], {"type": event["type"], "sequence_number": number, **event}


# --- Anthropic's Messages API ---


def message_object(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": _id("msg_"),
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "model": body.get("model"),
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": words(chat_text(body)), "output_tokens": words(text)},
    }


def message_events(final: dict[str, Any], pieces: list[str]) -> Iterator[Event]:
    usage = {**final["usage"], "output_tokens": 0}
    start = {**final, "content": [], "stop_reason": None, "usage": usage}
    yield "message_start", {"type": "message_start", "message": start}
    block = {"type": "text", "text": ""}
    yield "content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        yield "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": 0}
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    said = {"output_tokens": final["usage"]["output_tokens"]}
    yield "message_delta", {"type": "message_delta", "delta": stop, "usage": said}
    yield "message_stop", {"type": "message_stop"}


def silence_wav() -> bytes:
    """A tenth of a second of 16 kHz mono silence."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 1600)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--die-after", type=float, default=None)
    parser.add_argument("--hang-after", type=float, default=None)
    parser.add_argument("--exit-code", type=int, default=7)
    parser.add_argument("--busy", action="store_true", help="report one request running")
    parser.add_argument("--chat-reply", default=None, help="answer every chat with this text")
    parser.add_argument("--echo", action="store_true", help="answer a chat with its last turn")
    parser.add_argument("--fail-status", type=int, default=None, help="answer requests so")
    parser.add_argument("--ready-after", type=float, default=0.0, help="unhealthy until then")
    parser.add_argument("--stream-delay", type=float, default=None, help="seconds per chunk")
    parser.add_argument("--stream-tokens", type=int, default=10, help="chunks per stream")
    parser.add_argument("--audio", action="store_true", help="answer the audio endpoints")
    parser.add_argument("--keep-alive", action="store_true", help="HTTP/1.1, connections kept")
    parser.add_argument("--retry-after", default=None, help="Retry-After on --fail-status")
    parser.add_argument("--hang", action="store_true", help="never answer an API request")
    parser.add_argument("--break-stream", action="store_true", help="cut streams at once")
    args = parser.parse_args()
    state = State()
    state.busy = args.busy
    state.chat_reply = args.chat_reply
    state.echo = args.echo
    state.fail_status = args.fail_status
    state.retry_after = args.retry_after
    state.hang = args.hang
    state.break_stream = args.break_stream
    state.ready_at = time.monotonic() + args.ready_after
    state.stream_delay = args.stream_delay
    state.stream_tokens = args.stream_tokens
    state.audio = args.audio
    if args.hang_after is not None:
        state.hang_at = time.monotonic() + args.hang_after
    served = handler(state)
    if args.keep_alive:  # a stream still closes its connection (events sends connection: close)
        served.protocol_version = "HTTP/1.1"
        # headers and body are two writes: with Nagle the body would wait on a delayed ACK
        served.disable_nagle_algorithm = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), served, bind_and_activate=False)
    # socketserver's listen backlog is 5: a burst of connections (bench/streams_open.py opens
    # 200 at once) would overflow it, and the kernel's SYN retries (1 s, 3 s, 7 s...) or resets
    # would then be charged to whatever sits in front of this server.
    server.request_queue_size = 1024
    server.server_bind()
    server.server_activate()
    if args.die_after is not None:
        threading.Timer(args.die_after, lambda: os._exit(args.exit_code)).start()
    print(f"fake vLLM on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
