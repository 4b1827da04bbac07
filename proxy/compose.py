"""Chat requests that no single server can answer, served by two chains in turn, as the
config's `proxy.degrade` declares:

- audio in, no server that hears it (none in the chain, or all failed): each audio part is
  transcribed through the `transcribe_with` chain (Whisper, then the STT sidecar) and the
  text answered through `answer_with`;
- video, no server that sees it: `frames` evenly spaced frames go to `answer_with` as images;
- audio out (`modalities: ["audio"]`, or an intent whose output is audio), no server that
  speaks: the text comes from `text_with`, the speech from `speak_with`, and the answer
  carries it as `message.audio`, OpenAI's chat audio format.

The response says what happened: `x-modelyard-degraded` names the degradation, and the
servers that took part are in `x-modelyard-transcribed-by` / `-spoken-by` beside the usual
`x-modelyard-model` of the text answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from modelyard_config import Config
from modelyard_config.endpoints import CHAT, SPEECH, TRANSCRIPTIONS
from modelyard_config.proxy import AudioToTranscript, SpokenAnswers
from openai_wire.errors import UNAVAILABLE
from proxy.audio_form import MAX_UPLOAD_BYTES
from proxy.bodies import Body, FormBody, JsonBody, Upload
from proxy.classify.classifier import Classifier
from proxy.errors import BadRequestError, UnavailableError
from proxy.fallback import AllCandidatesFailedError, Chain
from proxy.frames import sample_frames
from proxy.media_urls import decode_base64, read_media_url
from proxy.resolve import Plan
from proxy.routing import Routed, route

AUDIO_PARTS = frozenset({"input_audio", "audio_url"})
VIDEO_PARTS = frozenset({"video_url", "input_video"})
MAX_VIDEO_BYTES = 64 * 2**20
# OpenAI's chat `audio.format` values, as the speech endpoint names them.
CHAT_AUDIO_FORMATS = {"wav": "wav", "mp3": "mp3", "flac": "flac", "opus": "opus", "pcm16": "pcm"}
AUDIO_TTL = 3600  # what `message.audio.expires_at` promises; nothing is stored server-side


class DegradedStepError(UnavailableError):
    """One chain of a composed answer returned something the next step cannot use."""

    fault = UNAVAILABLE.with_code("degraded_step_failed")


def wants_spoken_answer(config: Config, routed: Routed) -> bool:
    """Audio out is asked for (or the intent only produces audio), spoken answers are declared,
    and no server in the chain produces audio itself."""
    if config.proxy.degrade.audio_out is None or routed.features.endpoint != CHAT:
        return False
    intent = config.classifier.intents.get(routed.plan.intent or "")
    wants = routed.features.audio_out or (intent is not None and "audio" in intent.outputs)
    speakers = [s for s in routed.plan.candidates if "audio_out" in config.servers[s].capabilities]
    return wants and not speakers


def may_use_frames(config: Config, routed: Routed) -> bool:
    return (
        config.proxy.degrade.video is not None
        and routed.features.endpoint == CHAT
        and routed.features.video
    )


def may_transcribe(config: Config, routed: Routed) -> bool:
    return (
        config.proxy.degrade.audio_in is not None
        and routed.features.endpoint == CHAT
        and routed.features.audio_in
    )


def degradation(config: Config, routed: Routed) -> str | None:
    """What `POST /route` reports the proxy would do beyond the chain, if anything."""
    if wants_spoken_answer(config, routed):
        return "audio_out->speech"
    video = config.proxy.degrade.video
    label = (
        "audio_in->transcript"
        if may_transcribe(config, routed)
        else f"video->frames:{video.frames}"
        if video is not None and may_use_frames(config, routed)
        else None
    )
    if label is None or not routed.plan.candidates:
        return label
    return f"{label} if every candidate fails"


@dataclass(frozen=True)
class Composer:
    config: Config
    chain: Chain
    classifier: Classifier

    async def heard(self, payload: dict[str, Any], headers: dict[str, str]) -> Response:
        """Transcribe every audio part, then answer the text (the `audio_in` degradation)."""
        rule = self.config.proxy.degrade.audio_in
        assert rule is not None
        transcribed_by: list[str] = []

        async def transcript(part: dict[str, Any], where: str) -> list[dict[str, Any]]:
            text, server = await self._transcribe(rule, part, where, headers)
            transcribed_by.append(server)
            return [{"type": "text", "text": text}]

        messages = await _replace_parts(payload["messages"], AUDIO_PARTS, transcript)
        text_payload = {**payload, "messages": messages, "model": rule.answer_with}
        response = await self._send(CHAT, text_payload, headers)
        response.headers["x-modelyard-degraded"] = "audio_in->transcript"
        response.headers["x-modelyard-transcribed-by"] = ",".join(transcribed_by)
        return response

    async def seen(self, payload: dict[str, Any], headers: dict[str, str]) -> Response:
        """Every video part as frames (images), then the images answered (`video`)."""
        rule = self.config.proxy.degrade.video
        assert rule is not None

        async def frames(part: dict[str, Any], where: str) -> list[dict[str, Any]]:
            video = await self._url_bytes(_part_url(part), where, MAX_VIDEO_BYTES)
            pngs = await asyncio.to_thread(sample_frames, video, rule.frames, where)
            return [_image_part(png) for png in pngs]

        messages = await _replace_parts(payload["messages"], VIDEO_PARTS, frames)
        response = await self._send(
            CHAT, {**payload, "messages": messages, "model": rule.answer_with}, headers
        )
        response.headers["x-modelyard-degraded"] = f"video->frames:{rule.frames}"
        return response

    async def _url_bytes(self, url: object, where: str, limit: int) -> bytes:
        allow = self.config.proxy.fetch_private_media
        return await read_media_url(self.chain.session, url, where, limit, allow)

    async def _audio(self, part: dict[str, Any], where: str) -> tuple[bytes, str]:
        """An `input_audio` part's bytes and format, or an `audio_url` part's (data: or http)."""
        if part.get("type") == "input_audio":
            spec = part.get("input_audio") or {}
            data = spec.get("data") if isinstance(spec, dict) else None
            if not isinstance(data, str) or not data:
                raise BadRequestError(f"'{where}' carries no audio data.", param=where)
            return decode_base64(data, where), str(spec.get("format") or "wav")
        url = _part_url(part)
        audio = await self._url_bytes(url, f"{where}.audio_url.url", MAX_UPLOAD_BYTES)
        return audio, _audio_format(str(url))

    async def spoken(self, payload: dict[str, Any], headers: dict[str, str]) -> Response:
        """The text from one chain, its speech from another, as `message.audio`."""
        rule = self.config.proxy.degrade.audio_out
        assert rule is not None
        voice, fmt = _audio_options(payload, rule)
        text_payload = {
            k: v
            for k, v in payload.items()
            if k not in ("modalities", "audio", "stream", "stream_options")
        }
        text_payload["model"] = rule.text_with
        answered = await self._chat(text_payload, headers)
        if answered.status_code != 200:
            return answered
        completion = _json(answered, "the text answer")
        message = _first_message(completion)
        text = message.get("content") or ""
        if not isinstance(text, str) or not text.strip():
            raise DegradedStepError(
                f"The text answer from {answered.headers.get('x-modelyard-model')} was empty, "
                "so there is nothing to speak."
            )
        speech_payload = {"model": rule.speak_with, "input": text, "voice": voice}
        speech_payload["response_format"] = fmt
        spoken = await self._send(SPEECH, speech_payload, headers)
        if spoken.status_code != 200:
            return spoken
        audio = {
            "id": "audio_" + secrets.token_hex(12),
            "data": base64.b64encode(bytes(spoken.body)).decode(),
            "expires_at": int(time.time()) + AUDIO_TTL,
            "transcript": text,
        }
        passed_on = _passed_on(answered)
        # speech in and speech out: the text step may itself have transcribed the question
        degraded = [passed_on.get("x-modelyard-degraded"), "audio_out->speech"]
        passed_on["x-modelyard-degraded"] = ",".join(d for d in degraded if d)
        passed_on["x-modelyard-spoken-by"] = spoken.headers.get("x-modelyard-model", "")
        if payload.get("stream"):
            events = _audio_events(completion, audio, bytes(spoken.body))
            return StreamingResponse(events, media_type="text/event-stream", headers=passed_on)
        message["content"] = None
        message["audio"] = audio
        return JSONResponse(completion, headers=passed_on)

    async def _transcribe(
        self, rule: AudioToTranscript, part: dict[str, Any], where: str, headers: dict[str, str]
    ) -> tuple[str, str]:
        audio, fmt = await self._audio(part, where)
        form = FormBody(
            (("model", rule.transcribe_with), ("response_format", "json")),
            (Upload("file", f"audio.{fmt}", f"audio/{fmt}", audio),),
        )
        routed = await route(
            self.config, self.classifier, TRANSCRIPTIONS, {"model": rule.transcribe_with}
        )
        response = await self._through(routed.plan, TRANSCRIPTIONS, form, headers)
        if response.status_code != 200:
            detail = bytes(response.body)[:300].decode(errors="replace")
            raise BadRequestError(f"Transcribing {where} failed: {detail}", param=where)
        text = str(_json(response, "the transcript").get("text", ""))
        return text, response.headers.get("x-modelyard-model", "")

    async def _chat(self, payload: dict[str, Any], headers: dict[str, str]) -> Response:
        """A text answer as the proxy would give it: audio parts no server in the chain hears
        are transcribed first, when that is declared."""
        routed = await route(self.config, self.classifier, CHAT, payload)
        if may_transcribe(self.config, routed) and not routed.plan.candidates:
            return await self.heard(payload, headers)
        return await self._through(routed.plan, CHAT, JsonBody(payload), headers)

    async def _send(
        self, endpoint: str, payload: dict[str, Any], headers: dict[str, str]
    ) -> Response:
        routed = await route(self.config, self.classifier, endpoint, payload)
        return await self._through(routed.plan, endpoint, JsonBody(payload), headers)

    async def _through(
        self, plan: Plan, endpoint: str, body: Body, headers: dict[str, str]
    ) -> Response:
        if not plan.candidates:
            raise AllCandidatesFailedError(
                f"No server in the {plan.route!r} chain can serve {endpoint}: "
                + "; ".join(f"{s} {why}" for s, why in plan.skipped)
            )
        return await self.chain.send(plan, endpoint, body, headers)


Part = dict[str, Any]


def _part_url(part: Part) -> object:
    """`{"type": "video_url", "video_url": {"url": U}}` (or the bare string some clients send)."""
    spec = part.get(part["type"]) or {}
    return spec.get("url") if isinstance(spec, dict) else spec


async def _replace_parts(
    messages: list[dict[str, Any]],
    kinds: frozenset[str],
    replace: Callable[[Part, str], Awaitable[list[Part]]],
) -> list[dict[str, Any]]:
    """The messages with every content part of `kinds` replaced by what `replace` makes of it
    (given the part and its param path, `messages[i].content[j]`), in order."""
    result = []
    for i, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            parts: list[Part] = []
            for j, part in enumerate(content):
                if part.get("type") in kinds:
                    parts += await replace(part, f"messages[{i}].content[{j}]")
                else:
                    parts.append(part)
            message = {**message, "content": parts}
        result.append(message)
    return result


def _audio_options(payload: dict[str, Any], rule: SpokenAnswers) -> tuple[str, str]:
    options = payload.get("audio") or {}
    if not isinstance(options, dict):
        raise BadRequestError("'audio' must be an object with 'voice' and 'format'.", "audio")
    voice = options.get("voice") or rule.voice
    fmt = options.get("format") or rule.format
    if not isinstance(voice, str):
        raise BadRequestError("'audio.voice' must be a string.", param="audio.voice")
    if fmt not in CHAT_AUDIO_FORMATS and fmt not in CHAT_AUDIO_FORMATS.values():
        raise BadRequestError(
            f"'audio.format' must be one of {', '.join(CHAT_AUDIO_FORMATS)}; got {fmt!r}.",
            param="audio.format",
        )
    return voice, CHAT_AUDIO_FORMATS.get(fmt, fmt)


def _audio_format(url: str) -> str:
    """The container a client's audio URL names: a data: URL's subtype, else the path's
    suffix; Whisper's decoder sniffs the bytes anyway, so the name is only a hint."""
    if url.startswith("data:"):
        return url[5:].split(";")[0].split(",")[0].rsplit("/", 1)[-1] or "wav"
    suffix = url.split("?")[0].rsplit("/", 1)[-1].rpartition(".")[2]
    return suffix if 0 < len(suffix) <= 5 else "wav"


def _image_part(png: bytes) -> dict[str, Any]:
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return {"type": "image_url", "image_url": {"url": url}}


def _json(response: Response, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(bytes(response.body))
    except ValueError as exc:
        raise DegradedStepError(f"{what} was not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise DegradedStepError(f"{what} was not a JSON object")
    return parsed


def _first_message(completion: dict[str, Any]) -> dict[str, Any]:
    choices = completion.get("choices")
    message = choices[0].get("message") if isinstance(choices, list) and choices else None
    if not isinstance(message, dict):
        raise DegradedStepError("the text answer carried no choices[0].message")
    return message


# Raw bytes per streamed audio delta: a multiple of 3, so each delta's base64 decodes alone.
AUDIO_DELTA_BYTES = 3 * 16 * 1024


async def _audio_events(
    completion: dict[str, Any], audio: dict[str, Any], data: bytes
) -> AsyncIterator[bytes]:
    """A spoken answer as OpenAI streams one: the id and transcript first, then the audio in
    base64 pieces, then `expires_at` with the finish reason, then [DONE]. The speech is made
    whole before the first event (the sidecars synthesise a request at once)."""
    head = {k: completion.get(k) for k in ("id", "created", "model")}
    head["object"] = "chat.completion.chunk"
    finish = completion["choices"][0].get("finish_reason") or "stop"

    def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return f"data: {json.dumps({**head, 'choices': [choice]})}\n\n".encode()

    yield event(
        {"role": "assistant", "audio": {"id": audio["id"], "transcript": audio["transcript"]}}
    )
    for start in range(0, len(data), AUDIO_DELTA_BYTES):
        piece = base64.b64encode(data[start : start + AUDIO_DELTA_BYTES]).decode()
        yield event({"audio": {"id": audio["id"], "data": piece}})
    yield event({"audio": {"id": audio["id"], "expires_at": audio["expires_at"]}}, finish)
    yield b"data: [DONE]\n\n"


def _passed_on(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("x-modelyard-")}
