"""Malformed requests, one per way a body can be wrong: what a schema-driven fuzzer rarely
makes (bodies that are not JSON at all, nesting past Python's recursion limit, multipart with
no boundary or non-UTF-8 names). The proxy must answer every one with a 4xx in OpenAI's error
shape, never a 5xx.

Run twice: in `make test` against the in-process app (tests/component/test_fuzz_corpus.py),
and by `make fuzz` against a real `modelyard up` (fuzz/run.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from modelyard_config.endpoints import CHAT, COMPLETIONS, SPEECH, TRANSCRIPTIONS, TRANSLATIONS

JSON = "application/json"
BOUNDARY = "fuzzboundary"
FORM = f"multipart/form-data; boundary={BOUNDARY}"
MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    body: bytes
    content_type: str | None = JSON
    method: str = "POST"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _chat(content: Any, **extra: Any) -> bytes:
    return _json({"model": "auto", "messages": [{"role": "user", "content": content}], **extra})


def _part(url_type: str, url: Any) -> list[Any]:
    return [{"type": "text", "text": "what is this?"}, {"type": url_type, url_type: {"url": url}}]


def _audio_part(data: Any, fmt: Any) -> list[Any]:
    return [{"type": "input_audio", "input_audio": {"data": data, "format": fmt}}]


def _field(name: bytes, value: bytes, filename: bytes | None = None) -> bytes:
    disposition = b'form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    head = b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: " + disposition + b"\r\n"
    if filename is not None:
        head += b"Content-Type: audio/wav\r\n"
    return head + b"\r\n" + value + b"\r\n"


def _form(*fields: bytes, close: bool = True) -> bytes:
    return b"".join(fields) + (b"--" + BOUNDARY.encode() + b"--\r\n" if close else b"")


def _nested(depth: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def _deep_json(depth: int, open_: str = "[", close: str = "]") -> bytes:
    """Nesting past what json.dumps itself could write (it recurses too)."""
    return (open_ * depth + '"x"' + close * depth).encode()


def json_cases() -> list[Case]:
    broken = [b"", b"{", b'{"model": ', b"[", b"null", b'"text"', b"123", b"{}garbage"]
    broken += [b"\xff\xfe{", b'{"model": "\xff"}', b'{"messages": NaN}', b"{'single': 1}"]
    cases = [Case(f"broken json {b!r} on {CHAT}", CHAT, b) for b in broken]
    cases += [Case(f"broken json {b!r} on {p}", p, b) for b in broken[:4] for p in (COMPLETIONS,)]
    cases += [Case(f"broken json {b!r} on {p}", p, b) for b in broken[:4] for p in (SPEECH,)]
    cases += [Case("broken json on /route", "/route", b"{")]
    wrong_types = {
        "messages a string": {"messages": "hi"},
        "messages an object": {"messages": {"role": "user"}},
        "messages empty": {"messages": []},
        "message a number": {"messages": [1]},
        "message null": {"messages": [None]},
        "role a number": {"messages": [{"role": 5, "content": "x"}]},
        "content a number": {"messages": [{"role": "user", "content": 5}]},
        "part type a number": {"messages": [{"role": "user", "content": [{"type": 1}]}]},
        "part a string": {"messages": [{"role": "user", "content": ["text"]}]},
        "model a number": {"model": 5, "messages": [{"role": "user", "content": "x"}]},
        "model a list": {"model": ["auto"], "messages": [{"role": "user", "content": "x"}]},
        "stream a string": {"stream": "yes", "messages": [{"role": "user", "content": "x"}]},
        "max_tokens a string": {
            "max_tokens": "many",
            "messages": [{"role": "user", "content": "x"}],
        },
        "max_tokens negative": {"max_tokens": -1, "messages": [{"role": "user", "content": "x"}]},
        "modalities a string": {
            "modalities": "audio",
            "messages": [{"role": "user", "content": "x"}],
        },
        "audio a string": {
            "modalities": ["audio"],
            "audio": "loud",
            "messages": [{"role": "user", "content": "x"}],
        },
        "audio.format a list": {
            "modalities": ["text", "audio"],
            "audio": {"voice": "alloy", "format": ["wav"]},
            "messages": [{"role": "user", "content": "say hi"}],
        },
        "audio.voice a number": {
            "modalities": ["text", "audio"],
            "audio": {"voice": 5, "format": "wav"},
            "messages": [{"role": "user", "content": "say hi"}],
        },
    }
    cases += [Case(f"chat: {name}", CHAT, _json(body)) for name, body in wrong_types.items()]
    for name, body in {
        "prompt an object": {"prompt": {}},
        "prompt empty list": {"prompt": []},
        "prompt a number": {"prompt": 5},
        "prompt nested lists": {"prompt": [[1, 2], ["a"]]},
        "prompt absent": {"model": "auto"},
    }.items():
        cases.append(Case(f"completions: {name}", COMPLETIONS, _json(body)))
    for name, body in {
        "input a number": {"input": 5, "voice": "alloy"},
        "input empty": {"input": "", "voice": "alloy"},
        "input too long": {"input": "a" * 5000, "voice": "alloy"},
        "voice a number": {"input": "hi", "voice": 5},
        "speed a string": {"input": "hi", "voice": "alloy", "speed": "fast"},
        "response_format a list": {"input": "hi", "voice": "alloy", "response_format": ["mp3"]},
    }.items():
        cases.append(Case(f"speech: {name}", SPEECH, _json(body)))
    return cases


def hostile_cases() -> list[Case]:
    cases = [
        # to a named route: no classification, so the whole body goes through (SLOW_CASES
        # are the classified ones)
        Case("huge content string (8 MB)", CHAT, _chat("a" * 8 * MB, model="agent")),
        Case("huge model name", CHAT, _json({"model": "m" * 100_000, "messages": []})),
        Case("huge prompt (8 MB)", COMPLETIONS, _json({"prompt": "p" * 8 * MB, "model": "agent"})),
        Case("deep nesting 1000 in content", CHAT, _chat(_nested(900))),
        Case("deep nesting 1500 arrays", CHAT, _deep_json(1500)),
        Case("deep nesting 100000 arrays", CHAT, _deep_json(100_000)),
        Case("deep nesting 5000 objects", CHAT, ('{"a":' * 5000 + "1" + "}" * 5000).encode()),
        Case("deep nesting on completions", COMPLETIONS, _deep_json(5000)),
        Case("deep nesting on speech", SPEECH, _deep_json(5000)),
        Case("deep nesting on /route", "/route", _deep_json(5000)),
        Case("NUL in content", CHAT, _chat("a\x00b")),
        Case("NUL in model", CHAT, _json({"model": "auto\x00", "messages": []})),
        Case("raw NUL in JSON string", CHAT, b'{"model": "a\x00b", "messages": []}'),
        Case("NUL in speech input", SPEECH, _json({"input": "hi\x00", "voice": "alloy\x00"})),
    ]
    bad_audio = {
        "not base64": ("!!!not base64!!!", "wav"),
        "empty data": ("", "wav"),
        "data a number": (5, "wav"),
        "format a list": (base64.b64encode(b"RIFF").decode(), ["wav"]),
        "format with a newline": (base64.b64encode(b"RIFF").decode(), "wav\nX-Injected: 1"),
        "format unknown": (base64.b64encode(b"RIFF").decode(), "hologram"),
        "base64 of noise": (base64.b64encode(b"\x00\xff" * 512).decode(), "mp3"),
    }
    for name, (data, fmt) in bad_audio.items():
        cases.append(Case(f"input_audio: {name}", CHAT, _chat(_audio_part(data, fmt))))
    unknown_parts: list[Any] = [
        [{"type": "hologram", "hologram": {}}],
        [{"type": ""}],
        [{"type": "image_url", "image_url": 5}],
        [{"type": "image_url", "image_url": {"url": 5}}],
        [{"type": "image_url"}],
        [{"type": "input_audio", "input_audio": "abc"}],
        [{"type": "text", "text": 5}],
        [{"type": "video_url", "video_url": None}],
    ]
    cases += [Case(f"part {i}: {p[0]}", CHAT, _chat(p)) for i, p in enumerate(unknown_parts)]
    bad_urls = [
        "http://h:abc/",
        "http://h:99999/x.png",
        "http://[::1",
        "http://",
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:",
        "data:image/png;base64,!!!",
        "data:video/mp4;base64,AAAA",
        "http://127.0.0.1:1/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://example.com/" + "a" * 100_000,
        "http://exa\x00mple.com/x.png",
    ]
    for url in bad_urls:
        for kind in ("image_url", "video_url", "audio_url"):
            cases.append(Case(f"{kind} {url[:40]!r}", CHAT, _chat(_part(kind, url))))
    return cases


def upload_cases() -> list[Case]:
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
    model = _field(b"model", b"whisper-1")
    files = {
        "no boundary": (_form(model, _field(b"file", wav, b"a.wav")), "multipart/form-data"),
        "garbage body": (b"this is not multipart", FORM),
        "unterminated": (_form(model, _field(b"file", wav, b"a.wav"), close=False)[:-20], FORM),
        "missing file": (_form(model), FORM),
        "two files": (
            _form(model, _field(b"file", wav, b"a.wav"), _field(b"file", wav, b"b.wav")),
            FORM,
        ),
        "file not a file": (_form(model, _field(b"file", b"just text")), FORM),
        "empty file": (_form(model, _field(b"file", b"", b"a.wav")), FORM),
        "not audio": (_form(model, _field(b"file", b"%PDF-1.4 nonsense", b"a.wav")), FORM),
        "huge field (4 MB prompt)": (
            _form(model, _field(b"prompt", b"p" * 4 * MB), _field(b"file", wav, b"a.wav")),
            FORM,
        ),
        "non-UTF-8 field name": (
            _form(_field(b"mod\xffel", b"whisper-1"), _field(b"file", wav, b"a.wav")),
            FORM,
        ),
        "non-UTF-8 filename": (_form(model, _field(b"file", wav, b"\xff\xfe.wav")), FORM),
        "non-UTF-8 model value": (
            _form(_field(b"model", b"\xff\xfe"), _field(b"file", wav, b"a.wav")),
            FORM,
        ),
        "non-Latin-1 language": (
            _form(model, _field(b"language", "हिन्दी".encode()), _field(b"file", wav, b"a.wav")),
            FORM,
        ),
        "language with CRLF": (
            _form(model, _field(b"language", b"en\r\nX: y"), _field(b"file", wav, b"a.wav")),
            FORM,
        ),
        "temperature a word": (
            _form(model, _field(b"temperature", b"hot"), _field(b"file", wav, b"a.wav")),
            FORM,
        ),
        "json instead of a form": (_json({"model": "whisper-1", "file": "abc"}), JSON),
        "no content type": (_form(model, _field(b"file", wav, b"a.wav")), None),
    }
    return [
        Case(f"{path.rsplit('/', 1)[1]}: {name}", path, body, content_type)
        for name, (body, content_type) in files.items()
        for path in (TRANSCRIPTIONS, TRANSLATIONS)
    ]


def protocol_cases() -> list[Case]:
    return [
        Case("GET on a POST route", CHAT, b"", None, "GET"),
        Case("POST on a GET route", "/v1/models", b"{}", JSON),
        Case("unknown path", "/v1/nothing-here", b"{}"),
        Case("text/plain with JSON", CHAT, _chat("hi"), "text/plain"),
        Case("/route unknown endpoint", "/route?endpoint=/v1/nope", _chat("hi")),
        Case("/route for an upload, JSON body", f"/route?endpoint={TRANSCRIPTIONS}", b"{}"),
    ]


def cases() -> list[Case]:
    return json_cases() + hostile_cases() + upload_cases() + protocol_cases()


def slow_cases() -> list[Case]:
    """Huge text the classifier's cue regexes scan, for `make fuzz` only: measured on the
    2-core dev box, 17 us per character (an 8 MB chat took 97 s, the event loop blocked
    throughout), too slow for `make test` until the classifier bounds what it scans."""
    return [
        Case("huge content string, classified (1 MB)", CHAT, _chat("a" * MB)),
        Case("huge prompt, classified (1 MB)", COMPLETIONS, _json({"prompt": "p" * MB})),
    ]


def openai_shaped(body: bytes) -> bool:
    """`{"error": {"message": str, "type": str, "param", "code"}}`, as openai_wire builds it."""
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    error = payload.get("error") if isinstance(payload, dict) else None
    return (
        isinstance(error, dict)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("type"), str)
        and "param" in error
        and "code" in error
    )
