"""The proxy's own OpenAPI 3.1 document, served at `GET /openapi.json`.

Point any OpenAPI tool at it: a client generator, an API explorer (Swagger UI, Scalar), or a
fuzzer (`make fuzz` runs schemathesis against it, fuzz/run.py). It describes what this proxy
accepts, not all of OpenAI's API: the request fields OpenAI documents that clients commonly
send, with `additionalProperties` allowed (extra fields pass through to vLLM untouched); every
error in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`); and the bearer key
that `proxy.access` asks for on `/v1/*` and `/route` when keys are configured.

Static on purpose: the routes are plain Starlette (routes.py), so there is nothing to introspect,
and a document written down is one a reviewer can read. Built when the app is built, rendered
once, never at import.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from modelyard_config.endpoints import CHAT, COMPLETIONS, SPEECH, TRANSCRIPTIONS, TRANSLATIONS

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: Schema, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        schema["required"] = list(required)
    return schema


STRING = {"type": "string"}
NUMBER = {"type": "number"}
INTEGER = {"type": "integer"}
BOOLEAN = {"type": "boolean"}
MODEL = {
    "type": "string",
    "description": "`auto` (or absent): the classifier picks; else an intent, route, server "
    "or alias from servers.yaml (`GET /v1/models` lists them).",
}
STOP = {"oneOf": [STRING, {"type": "array", "items": STRING, "maxItems": 4}]}


def _content_part() -> Schema:
    url = _object({"url": STRING}, ("url",))
    return {
        "oneOf": [
            _object({"type": {"const": "text"}, "text": STRING}, ("type", "text")),
            _object({"type": {"const": "image_url"}, "image_url": url}, ("type", "image_url")),
            _object({"type": {"const": "video_url"}, "video_url": url}, ("type", "video_url")),
            _object({"type": {"const": "audio_url"}, "audio_url": url}, ("type", "audio_url")),
            _object(
                {
                    "type": {"const": "input_audio"},
                    "input_audio": _object(
                        {"data": {**STRING, "contentEncoding": "base64"}, "format": STRING},
                        ("data", "format"),
                    ),
                },
                ("type", "input_audio"),
            ),
        ]
    }


def _schemas() -> dict[str, Schema]:
    roles = ["system", "developer", "user", "assistant", "tool", "function"]
    error = _object(
        {
            "message": STRING,
            "type": STRING,
            "param": {"type": ["string", "null"]},
            "code": {"type": ["string", "null"]},
        },
        ("message", "type", "param", "code"),
    )
    return {
        "Error": _object({"error": error}, ("error",)),
        "ContentPart": _content_part(),
        "Message": _object(
            {
                "role": {"enum": roles},
                "content": {
                    "oneOf": [
                        STRING,
                        {"type": "null"},
                        {"type": "array", "items": _ref("ContentPart")},
                    ]
                },
                "name": STRING,
                "tool_call_id": STRING,
                "tool_calls": {"type": "array", "items": {"type": "object"}},
            },
            ("role",),
        ),
        "ChatCompletionRequest": _object(
            {
                "model": MODEL,
                "messages": {"type": "array", "items": _ref("Message"), "minItems": 1},
                "stream": BOOLEAN,
                "stream_options": _object({"include_usage": BOOLEAN}),
                "max_tokens": {**INTEGER, "minimum": 1},
                "max_completion_tokens": {**INTEGER, "minimum": 1},
                "temperature": {**NUMBER, "minimum": 0, "maximum": 2},
                "top_p": {**NUMBER, "minimum": 0, "maximum": 1},
                "n": {**INTEGER, "minimum": 1},
                "stop": STOP,
                "presence_penalty": {**NUMBER, "minimum": -2, "maximum": 2},
                "frequency_penalty": {**NUMBER, "minimum": -2, "maximum": 2},
                "logit_bias": {"type": "object", "additionalProperties": NUMBER},
                "logprobs": BOOLEAN,
                "top_logprobs": {**INTEGER, "minimum": 0, "maximum": 20},
                "seed": INTEGER,
                "user": STRING,
                "tools": {"type": "array", "items": {"type": "object"}},
                "tool_choice": {"oneOf": [STRING, {"type": "object"}]},
                "response_format": _object({"type": STRING}, ("type",)),
                "modalities": {"type": "array", "items": {"enum": ["text", "audio"]}},
                "audio": _object({"voice": STRING, "format": STRING}),
            },
            ("messages",),
        ),
        "CompletionRequest": _object(
            {
                "model": MODEL,
                "prompt": {
                    "oneOf": [
                        STRING,
                        {"type": "array", "items": STRING, "minItems": 1},
                        {"type": "array", "items": INTEGER, "minItems": 1},
                    ]
                },
                "suffix": STRING,
                "stream": BOOLEAN,
                "max_tokens": {**INTEGER, "minimum": 1},
                "temperature": {**NUMBER, "minimum": 0, "maximum": 2},
                "top_p": {**NUMBER, "minimum": 0, "maximum": 1},
                "n": {**INTEGER, "minimum": 1},
                "logprobs": {**INTEGER, "minimum": 0, "maximum": 5},
                "echo": BOOLEAN,
                "stop": STOP,
                "presence_penalty": {**NUMBER, "minimum": -2, "maximum": 2},
                "frequency_penalty": {**NUMBER, "minimum": -2, "maximum": 2},
                "best_of": {**INTEGER, "minimum": 1},
                "seed": INTEGER,
                "user": STRING,
            },
            ("prompt",),
        ),
        "SpeechRequest": _object(
            {
                "model": MODEL,
                "input": {**STRING, "minLength": 1, "maxLength": 4096},
                "voice": STRING,
                "instructions": STRING,
                "response_format": {"enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"]},
                "speed": {**NUMBER, "minimum": 0.25, "maximum": 4.0},
            },
            ("input",),
        ),
        "TranscriptionRequest": _object(
            {
                "file": {**STRING, "contentMediaType": "application/octet-stream"},
                "model": MODEL,
                "language": {**STRING, "description": "ISO-639-1, e.g. `en`, `hi`"},
                "prompt": STRING,
                "response_format": {"enum": ["json", "text", "srt", "verbose_json", "vtt"]},
                "temperature": {**NUMBER, "minimum": 0, "maximum": 1},
            },
            ("file",),
        ),
        "Completion": _object({"id": STRING, "object": STRING, "choices": {"type": "array"}}),
        "Transcription": _object({"text": STRING}, ("text",)),
        "ModelList": _object(
            {
                "object": {"const": "list"},
                "data": {
                    "type": "array",
                    "items": _object(
                        {"id": STRING, "object": {"const": "model"}, "owned_by": STRING},
                        ("id", "object"),
                    ),
                },
            },
            ("object", "data"),
        ),
    }


ERRORS = {
    "400": "Malformed request: the message and `param` name the field",
    "401": "Missing or wrong API key",
    "404": "`model` names no server, route, intent or alias",
    "413": "An upload or a media URL over its limit",
    "429": "The key's rate or concurrency limit: see Retry-After",
    "503": "No server could answer (or the proxy is shutting down): see Retry-After",
}


def _responses(ok: Schema, description: str = "OK") -> Schema:
    error = {"application/json": {"schema": _ref("Error")}}
    responses: Schema = {"200": {"description": description, "content": ok}}
    responses.update({code: {"description": why, "content": error} for code, why in ERRORS.items()})
    return responses


def _json_body(name: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _generation(summary: str, request: str) -> Schema:
    ok = {
        "application/json": {"schema": _ref("Completion")},
        "text/event-stream": {"schema": STRING},
    }
    return {
        "post": {
            "summary": summary,
            "requestBody": _json_body(request),
            "responses": _responses(ok, "The answer; a stream when `stream` is true"),
        }
    }


def _upload(summary: str) -> Schema:
    body = {"multipart/form-data": {"schema": _ref("TranscriptionRequest")}}
    ok = {"application/json": {"schema": _ref("Transcription")}, "text/plain": {"schema": STRING}}
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": body},
            "responses": _responses(ok),
        }
    }


def _paths() -> dict[str, Schema]:
    audio = {"application/octet-stream": {"schema": {**STRING, "format": "binary"}}}
    decision = {"application/json": {"schema": {"type": "object"}}}
    endpoint = {
        "name": "endpoint",
        "in": "query",
        "required": False,
        "schema": {"enum": [CHAT, COMPLETIONS, TRANSCRIPTIONS, TRANSLATIONS, SPEECH]},
    }
    return {
        CHAT: _generation("Chat completion, routed by intent", "ChatCompletionRequest"),
        COMPLETIONS: _generation("Text completion, routed by intent", "CompletionRequest"),
        TRANSCRIPTIONS: _upload("Speech to text in its own language"),
        TRANSLATIONS: _upload("Speech to English text"),
        SPEECH: {
            "post": {
                "summary": "Text to speech",
                "requestBody": _json_body("SpeechRequest"),
                "responses": _responses(audio, "The audio"),
            }
        },
        "/v1/models": {
            "get": {
                "summary": "Every model name a request may use",
                "responses": _responses({"application/json": {"schema": _ref("ModelList")}}),
            }
        },
        "/route": {
            "post": {
                "summary": "The routing decision for a body, without forwarding it",
                "parameters": [endpoint],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": _responses(decision),
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "security": [],
                "responses": {
                    "200": {"description": "OK", "content": {"text/plain": {"schema": STRING}}}
                },
            }
        },
    }


def document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "modelyard proxy",
            "version": "1",
            "description": "One OpenAI-compatible endpoint in front of vLLM servers.",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def endpoint() -> Callable[[Request], Awaitable[Response]]:
    """The `GET /openapi.json` handler, with the document rendered once, now."""
    rendered = json.dumps(document()).encode()

    async def openapi(request: Request) -> Response:
        return Response(rendered, media_type="application/json")

    return openapi
