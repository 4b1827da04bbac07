"""Serving a routed request: its chain, or where `proxy.degrade` declares one (degrade.py
decides which), an answer composed from two chains:

- transcribe: each audio part is transcribed through the `transcribe_with` chain (Whisper,
  then the STT sidecar) and the text answered through `answer_with`;
- frames: `frames` evenly spaced frames of each video go to `answer_with` as images;
- speak: the text comes from `text_with`, the speech from `speak_with`, and the answer
  carries it as `message.audio` (chat_audio.py: OpenAI's chat audio format).

The response says what happened: `x-modelyard-degraded` names the degradation, and the
servers that took part are in `x-modelyard-transcribed-by` / `-spoken-by` beside the usual
`x-modelyard-model` of the text answer.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from modelyard_config import Config
from modelyard_config.endpoints import (
    CHAT,
    COUNT_TOKENS,
    EMBEDDINGS,
    MESSAGES,
    RERANK,
    RERANK_V2,
    RESPONSES,
    SCORE,
    SPEECH,
    TRANSCRIPTIONS,
)
from modelyard_config.proxy import AudioToTranscript
from openai_wire.errors import UNAVAILABLE
from proxy import chat_audio
from proxy.audio_form import MAX_UPLOAD_BYTES
from proxy.bodies import Body, FormBody, JsonBody, Upload
from proxy.classify.classifier import Classifier
from proxy.content_parts import Part, audio_format, image_part, part_url, replace_parts
from proxy.degrade import decide
from proxy.errors import BadRequestError, UnavailableError, UnsupportedInputError
from proxy.fallback import AllCandidatesFailedError, Chain
from proxy.media_urls import MediaReader, decode_base64
from proxy.resolve import Plan
from proxy.routing import Routed, route

log = logging.getLogger("modelyard.proxy")

AUDIO_PARTS = frozenset({"input_audio", "audio_url"})
# The field that carries what a request asks of a server, per endpoint: the `param` of a 400
# that says no server can take it.
_INPUT_FIELD = {
    CHAT: "messages",
    MESSAGES: "messages",
    COUNT_TOKENS: "messages",
    RESPONSES: "input",
    EMBEDDINGS: "input",
    RERANK: "documents",
    RERANK_V2: "documents",
    SCORE: "text_2",
}
VIDEO_PARTS = frozenset({"video_url", "input_video"})
Headers = dict[str, str]


class DegradedStepError(UnavailableError):
    """One chain of a composed answer returned something the next step cannot use."""

    fault = UNAVAILABLE.with_code("degraded_step_failed")


@dataclass(frozen=True)
class Composer:
    config: Config
    chain: Chain
    classifier: Classifier
    media: MediaReader

    async def serve(
        self, routed: Routed, endpoint: str, payload: dict[str, Any], body: Body, headers: Headers
    ) -> Response:
        """The answer to a routed request: its chain, or the degradation decide() names."""
        plan = routed.plan
        degradation = decide(self.config, routed)
        if degradation is None:
            if not plan.candidates:
                raise UnsupportedInputError(
                    f"No server in the {plan.route or plan.requested!r} chain can take this "
                    "request: "
                    + "; ".join(f"{server} {why}" for server, why in plan.skipped)
                    + ". POST /route shows the decision.",
                    param=_INPUT_FIELD.get(endpoint),
                )
            return await self.chain.send(plan, endpoint, body, headers)
        if degradation.kind == "speak":
            return await self.spoken(payload, headers)
        if degradation.fallback_only:
            try:
                return await self.chain.send(plan, endpoint, body, headers)
            except AllCandidatesFailedError as exc:
                log.warning("degrading %s: %s", plan.route, exc.message)
        if degradation.kind == "transcribe":
            return await self.heard(payload, headers)
        return await self.seen(payload, headers)

    async def heard(self, payload: dict[str, Any], headers: Headers) -> Response:
        """Transcribe every audio part, then answer the text (the `audio_in` degradation)."""
        rule = self.config.proxy.degrade.audio_in
        assert rule is not None
        transcribed_by: list[str] = []

        async def transcript(part: Part, where: str) -> list[Part]:
            text, server = await self._transcribe(rule, part, where, headers)
            transcribed_by.append(server)
            return [{"type": "text", "text": text}]

        messages = await replace_parts(payload["messages"], AUDIO_PARTS, transcript)
        text_payload = {**payload, "messages": messages, "model": rule.answer_with}
        response = await self._send(CHAT, text_payload, headers)
        response.headers["x-modelyard-degraded"] = "audio_in->transcript"
        response.headers["x-modelyard-transcribed-by"] = ",".join(transcribed_by)
        return response

    async def seen(self, payload: dict[str, Any], headers: Headers) -> Response:
        """Every video part as frames (images), then the images answered (`video`)."""
        rule = self.config.proxy.degrade.video
        assert rule is not None

        async def frames(part: Part, where: str) -> list[Part]:
            pngs = await self.media.video_frames(part_url(part), where, rule.frames)
            return [image_part(png) for png in pngs]

        messages = await replace_parts(payload["messages"], VIDEO_PARTS, frames)
        response = await self._send(
            CHAT, {**payload, "messages": messages, "model": rule.answer_with}, headers
        )
        response.headers["x-modelyard-degraded"] = f"video->frames:{rule.frames}"
        return response

    async def spoken(self, payload: dict[str, Any], headers: Headers) -> Response:
        """The text from one chain, its speech from another, as `message.audio`."""
        rule = self.config.proxy.degrade.audio_out
        assert rule is not None
        voice, fmt = chat_audio.options(payload, rule)
        text_payload = {k: v for k, v in payload.items() if k not in chat_audio.AUDIO_FIELDS}
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
        audio = chat_audio.message_audio(bytes(spoken.body), text)
        passed_on = _passed_on(answered)
        # speech in and speech out: the text step may itself have transcribed the question
        degraded = [passed_on.get("x-modelyard-degraded"), "audio_out->speech"]
        passed_on["x-modelyard-degraded"] = ",".join(d for d in degraded if d)
        passed_on["x-modelyard-spoken-by"] = spoken.headers.get("x-modelyard-model", "")
        if payload.get("stream"):
            events = chat_audio.events(completion, audio, bytes(spoken.body))
            return StreamingResponse(events, media_type="text/event-stream", headers=passed_on)
        message["content"] = None
        message["audio"] = audio
        return JSONResponse(completion, headers=passed_on)

    async def _transcribe(
        self, rule: AudioToTranscript, part: Part, where: str, headers: Headers
    ) -> tuple[str, str]:
        limit = self.config.proxy.limits.upload_bytes
        audio, fmt = await read_audio(self.media, part, where, limit)
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

    async def _chat(self, payload: dict[str, Any], headers: Headers) -> Response:
        """A text answer as the proxy would give it, degradations included (audio parts no
        server in the chain hears are transcribed first, when that is declared)."""
        routed = await route(self.config, self.classifier, CHAT, payload)
        return await self.serve(routed, CHAT, payload, JsonBody(payload), headers)

    async def _send(self, endpoint: str, payload: dict[str, Any], headers: Headers) -> Response:
        routed = await route(self.config, self.classifier, endpoint, payload)
        return await self._through(routed.plan, endpoint, JsonBody(payload), headers)

    async def _through(self, plan: Plan, endpoint: str, body: Body, headers: Headers) -> Response:
        if not plan.candidates:
            raise AllCandidatesFailedError(
                f"No server in the {plan.route!r} chain can serve {endpoint}: "
                + "; ".join(f"{s} {why}" for s, why in plan.skipped)
            )
        return await self.chain.send(plan, endpoint, body, headers)


async def read_audio(
    media: MediaReader, part: Part, where: str, limit: int = MAX_UPLOAD_BYTES
) -> tuple[bytes, str]:
    """An `input_audio` part's bytes and format, or an `audio_url` part's (data: or http)."""
    if part.get("type") == "input_audio":
        spec = part.get("input_audio") or {}
        data = spec.get("data") if isinstance(spec, dict) else None
        if not isinstance(data, str) or not data:
            raise BadRequestError(f"'{where}' carries no audio data.", param=where)
        fmt = chat_audio.input_format(spec.get("format"), f"{where}.input_audio.format")
        return decode_base64(data, where, limit), fmt
    url = part_url(part)
    audio = await media.read(url, f"{where}.audio_url.url", limit)
    return audio, chat_audio.url_format(audio_format(str(url)))


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


def _passed_on(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("x-modelyard-")}
