"""Locust users that send loadtests/mix.py's requests to a modelyard proxy.

Run by `make load` and `make soak` (loadtests/run.py, loadtests/soak.py), in locust's own venv
(loadtests/locust_venv.py). By hand, against a running `modelyard up`:

    ~/.cache/modelyard/locust-venv/bin/locust -f loadtests/locustfile.py --headless \
        --host http://127.0.0.1:4000 -u 4 -r 1 -t 60s --media-dir DIR [--mix soak]

(`python -m loadtests.media DIR` writes the media.) Each request is named by its mix entry;
its full time is counted, a stream's to its last byte. A designed 429 or 503 is a success
under the name `ENTRY [designed STATUS]`, so locust's failures are real failures. Every
request also gets a row in `--request-log` (loadtests/request_log.py) with the headers that
say which server answered and which fallbacks were taken.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.media import load_media
from loadtests.mix import MIXES, Entry, Media
from loadtests.outcomes import Verdict, judge
from loadtests.request_log import RequestLog, Row


class Shared:
    """What every user of one run reads: the mix, the media, the request log."""

    def __init__(self, entries: tuple[Entry, ...], media: Media, log: RequestLog | None) -> None:
        self.entries = entries
        self.weights = [e.weight for e in entries]
        self.media = media
        self.log = log


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--mix", choices=sorted(MIXES), default="load", help="which mix")
    parser.add_argument("--media-dir", default="", help="image.png, speech.wav, clip.mp4")
    parser.add_argument("--request-log", default="", help="a CSV row per request")
    parser.add_argument("--think", type=float, default=1.0, help="max seconds between requests")


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    options = environment.parsed_options
    if not options.media_dir:
        raise SystemExit("--media-dir is required (python -m loadtests.media DIR makes one)")
    log = RequestLog(Path(options.request_log)) if options.request_log else None
    environment.modelyard = Shared(MIXES[options.mix], load_media(Path(options.media_dir)), log)
    MixUser.wait_time = between(0.0, options.think)


@events.quitting.add_listener
def _close(environment: Any, **_: Any) -> None:
    shared = getattr(environment, "modelyard", None)
    if shared is not None and shared.log is not None:
        shared.log.close()


class MixUser(FastHttpUser):
    wait_time = between(0.0, 1.0)
    network_timeout = 600.0  # a request may wait for a server to (re)start
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.rng = random.Random()

    @task
    def one_request(self) -> None:
        shared: Shared = self.environment.modelyard
        entry = self.rng.choices(shared.entries, weights=shared.weights)[0]
        call = entry.build(shared.media, self.rng)
        body, content_type = call.encoded()
        path = f"{call.path}?{call.query}" if call.query else call.path
        started = time.perf_counter()
        with self.client.post(
            path,
            data=body,
            headers={"content-type": content_type},
            name=entry.name,
            stream=call.stream,
            catch_response=True,
        ) as response:
            ttfb = (time.perf_counter() - started) * 1000
            status = response.status_code or 0
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            try:
                content = _read(response, call.stream)
            except Exception as exc:  # the generator's edge: any transport error is a result
                content, status = b"", 0
                verdict = Verdict("failed", f"read failed: {type(exc).__name__}: {exc}")
            else:
                verdict = judge(call.expect, status, headers, content)
            total = (time.perf_counter() - started) * 1000
            response.request_meta["response_time"] = total
            if verdict.outcome == "ok":
                response.success()
            elif verdict.outcome == "designed":
                response.request_meta["name"] = f"{entry.name} [designed {status}]"
                response.success()
            else:
                response.failure(verdict.detail)
        if shared.log is not None:
            shared.log.write(_row(entry, status, verdict, total, ttfb, headers))


def _read(response: Any, stream: bool) -> bytes:
    if not stream:
        return bytes(response.content or b"")
    if not response.status_code:
        return b""
    return b"".join(
        c if isinstance(c, bytes) else c.encode()
        for c in response.iter_content(chunk_size=4096, decode_content=False)
    )


def _row(
    entry: Entry, status: int, verdict: Verdict, total: float, ttfb: float, headers: dict[str, str]
) -> Row:
    return Row(
        t=round(time.time(), 3),
        entry=entry.name,
        status=status,
        outcome=verdict.outcome,
        ms=round(total, 2),
        ttfb_ms=round(ttfb, 2),
        model=headers.get("x-modelyard-model", ""),
        intent=headers.get("x-modelyard-intent", ""),
        language=headers.get("x-modelyard-language", ""),
        tried=headers.get("x-modelyard-tried", ""),
        degraded=headers.get("x-modelyard-degraded", ""),
        detail=verdict.detail,
    )
