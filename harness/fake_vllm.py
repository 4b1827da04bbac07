"""A small server that speaks the parts of vLLM's HTTP API the supervisor uses, on cue.

A test double, used only where real vLLM cannot show the behaviour here:
- sleep mode: vLLM's CPU build refuses it ("Sleep mode is not supported on current platform"),
  so `/sleep`, `/wake_up` and `/is_sleeping` follow vLLM's documented API instead;
- failures on cue: dying N seconds after becoming ready, or going silent (health stops
  answering while the process lives), which a real server does only by accident.
It also serves `/metrics` with vLLM's gauge names and a minimal `/v1/completions`, and, with
`--chat-reply WORD`, a `/v1/chat/completions` that answers WORD: an LLM that reliably names
an intent for the classifier's triage stage, which the tiny random-weight models cannot be.
With `--echo`, a chat is answered with the text of its last user turn: a test can then see
what the proxy made of a request (a transcript in place of audio), which gibberish hides.
For the fault suite: `--fail-status N` answers every request with HTTP N, and `--ready-after S`
keeps /health at 503 for S seconds (a slow load, to be killed mid-way). For the drain tests:
`--stream-delay S` answers a `"stream": true` chat or completion with `--stream-tokens N`
server-sent chunks S seconds apart, then [DONE]: a long generation on cue, which the tiny
models finish too fast to shut a proxy down in the middle of. With `--audio` it also answers
/v1/audio/transcriptions and /translations (a fixed text) and /v1/audio/speech (a short WAV),
so that `make fuzz` reaches every endpoint with an upstream that is up: a 5xx is then the
proxy's own. A body that is not a JSON object gets vLLM's 400, not a dropped connection.
Standard library only, so it starts in milliseconds.

    python fake_vllm.py --port P [--die-after S] [--hang-after S] [--exit-code N] [--busy]
                        [--chat-reply WORD] [--echo] [--fail-status N] [--ready-after S]
                        [--stream-delay S] [--stream-tokens N] [--audio]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GENERATE = {"/v1/completions": "text_completion", "/v1/chat/completions": "chat.completion.chunk"}


class State:
    busy = False
    sleeping = False
    served = 0
    hang_at: float | None = None
    chat_reply: str | None = None
    echo = False
    fail_status: int | None = None
    ready_at = 0.0
    stream_delay: float | None = None
    stream_tokens = 10
    audio = False


def handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args: object) -> None:
            print(fmt % args, flush=True)

        def reply(self, status: int, body: object, content_type: str = "application/json") -> None:
            if isinstance(body, bytes):
                data = body
            else:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def stream(self, kind: str, model: object) -> None:
            """HTTP/1.0, as this server speaks: the body ends when the connection closes."""
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for n in range(state.stream_tokens):
                piece = {"index": 0, "text": f"t{n} "}
                if kind == "chat.completion.chunk":
                    piece = {"index": 0, "delta": {"content": f"t{n} "}}
                chunk = {"id": "s1", "object": kind, "model": model, "choices": [piece]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(state.stream_delay or 0)
            self.wfile.write(b"data: [DONE]\n\n")
            state.served += 1

        def do_GET(self) -> None:
            if state.hang_at is not None and time.monotonic() >= state.hang_at:
                time.sleep(3600)  # alive but silent, like a wedged engine
            path = self.path.split("?")[0]
            if path == "/health":
                ready = time.monotonic() >= state.ready_at
                self.reply(200 if ready else 503, {})
            elif path == "/is_sleeping":
                self.reply(200, {"is_sleeping": state.sleeping})
            elif path == "/metrics":
                text = (
                    f'vllm:num_requests_running{{model_name="fake"}} {int(state.busy)}.0\n'
                    'vllm:num_requests_waiting{model_name="fake"} 0.0\n'
                    f'vllm:request_success_total{{model_name="fake"}} {state.served}.0\n'
                )
                self.reply(200, text, "text/plain")
            else:
                self.reply(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
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
            if path == "/sleep":
                state.sleeping = True
                self.reply(200, {"status": "sleeping", "level": 1})
            elif path == "/wake_up":
                state.sleeping = False
                self.reply(200, {"status": "awake", "tags": None})
            elif path in ("/v1/completions", "/v1/chat/completions") and state.fail_status:
                error = {"message": "injected failure", "type": "server_error", "code": None}
                self.reply(state.fail_status, {"error": error})
            elif path in GENERATE and body.get("stream") and state.stream_delay is not None:
                self.stream(GENERATE[path], body.get("model"))
            elif path == "/v1/completions":
                if state.sleeping:
                    self.reply(503, {"error": {"message": "asleep"}})
                    return
                state.served += 1
                self.reply(
                    200,
                    {
                        "object": "text_completion",
                        "model": body.get("model"),
                        "choices": [{"index": 0, "text": "ok", "finish_reason": "stop"}],
                    },
                )
            elif path == "/v1/chat/completions" and (state.chat_reply is not None or state.echo):
                state.served += 1
                reply = last_user_text(body) if state.echo else state.chat_reply
                message = {"role": "assistant", "content": reply}
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

    return Handler


def last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    turns = messages if isinstance(messages, list) else []
    users = [m for m in turns if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list):
        parts = [p for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return " ".join(str(p.get("text", "")) for p in parts)
    return str(content or "")


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
    args = parser.parse_args()
    state = State()
    state.busy = args.busy
    state.chat_reply = args.chat_reply
    state.echo = args.echo
    state.fail_status = args.fail_status
    state.ready_at = time.monotonic() + args.ready_after
    state.stream_delay = args.stream_delay
    state.stream_tokens = args.stream_tokens
    state.audio = args.audio
    if args.hang_after is not None:
        state.hang_at = time.monotonic() + args.hang_after
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(state))
    if args.die_after is not None:
        threading.Timer(args.die_after, lambda: os._exit(args.exit_code)).start()
    print(f"fake vLLM on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
