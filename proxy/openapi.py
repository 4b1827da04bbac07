"""The proxy's own OpenAPI 3.1 document, served at `GET /openapi.json`.

Point any OpenAPI tool at it: a client generator, an API explorer (Swagger UI, Scalar), or a
fuzzer (`make fuzz` runs schemathesis against it, fuzz/run.py). It describes what this proxy
accepts, not all of OpenAI's (or Anthropic's) API: the request fields their documentation
lists that clients commonly send, with `additionalProperties` allowed (extra fields pass
through to vLLM untouched); every error in OpenAI's shape (`{"error": {"message", "type",
"param", "code"}}`) but on Anthropic's Messages API, which answers in its own (`{"type":
"error", "error": {"type", "message"}}`, proxy/dialects.py); and the key that `proxy.access`
asks for on `/v1/*` and `/route` when keys are configured, as a bearer token (OpenAI's
clients) or `x-api-key` (Anthropic's).

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

from modelyard_config.endpoints import (
    CHAT,
    COMPLETIONS,
    COUNT_TOKENS,
    EMBEDDINGS,
    ENDPOINTS,
    MESSAGES,
    RERANK,
    RERANK_V2,
    RESPONSES,
    SCORE,
    SPEECH,
    TRANSCRIPTIONS,
    TRANSLATIONS,
)

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
BATCH = 2048  # proxy.limits.batch_inputs, by default
# A response id as the proxy takes it (proxy/apis/shapes.py RESPONSE_ID)
RESPONSE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"}


def _array(items: Schema, most: int | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items, "minItems": 1}
    if most is not None:
        schema["maxItems"] = most
    return schema


def _texts(most: int = BATCH) -> Schema:
    return {"oneOf": [STRING, _array(STRING, most)]}


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
        **_pooling_schemas(),
        **_responses_schemas(),
        **_messages_schemas(),
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
        "Model": _object(
            {"id": STRING, "object": {"const": "model"}, "created": INTEGER, "owned_by": STRING},
            ("id", "object"),
        ),
        "Health": _object({"status": {"const": "ok"}}, ("status",)),
    }


def _pooling_schemas() -> dict[str, Schema]:
    """Embeddings, rerank (Jina's v1 and Cohere's v2 shape alike) and score, as vLLM takes them."""
    tokens = _array(INTEGER)
    document = {"oneOf": [STRING, _object({"text": STRING}, ("text",))]}
    return {
        "EmbeddingRequest": _object(
            {
                "model": MODEL,
                "input": {
                    "oneOf": [STRING, _array(STRING, BATCH), tokens, _array(tokens, BATCH)],
                    "description": "text, texts, or token ids (one input or many)",
                },
                "encoding_format": {"enum": ["float", "base64"]},
                "dimensions": {**INTEGER, "minimum": 1},
                "user": STRING,
            },
            ("input",),
        ),
        "RerankRequest": _object(
            {
                "model": MODEL,
                "query": {**STRING, "minLength": 1},
                "documents": _array(document, BATCH),
                "top_n": {**INTEGER, "minimum": 0},
                "return_documents": BOOLEAN,
            },
            ("query", "documents"),
        ),
        "ScoreRequest": _object(
            {"model": MODEL, "text_1": _texts(), "text_2": _texts()}, ("text_1", "text_2")
        ),
        "Embeddings": _object(
            {
                "object": {"const": "list"},
                "data": {
                    "type": "array",
                    "items": _object(
                        {
                            "index": INTEGER,
                            "object": {"const": "embedding"},
                            "embedding": {"oneOf": [{"type": "array", "items": NUMBER}, STRING]},
                        },
                        ("index", "embedding"),
                    ),
                },
                "model": STRING,
                "usage": {"type": "object"},
            },
            ("data",),
        ),
        "Reranking": _object(
            {
                "id": STRING,
                "model": STRING,
                "results": {
                    "type": "array",
                    "items": _object(
                        {
                            "index": INTEGER,
                            "relevance_score": NUMBER,
                            "document": {"type": "object"},
                        },
                        ("index", "relevance_score"),
                    ),
                },
            },
            ("results",),
        ),
        "Scores": _object(
            {
                "object": {"const": "list"},
                "data": {
                    "type": "array",
                    "items": _object(
                        {"index": INTEGER, "object": {"const": "score"}, "score": NUMBER},
                        ("index", "score"),
                    ),
                },
            },
            ("data",),
        ),
    }


def _responses_schemas() -> dict[str, Schema]:
    """OpenAI's Responses API: a string or input items, and the Response it answers."""
    part = _object(
        {
            "type": {
                "enum": [
                    "input_text",
                    "input_image",
                    "input_audio",
                    "input_file",
                    "output_text",
                    "refusal",
                ]
            },
            "text": STRING,
            "image_url": STRING,
            "file_id": STRING,
        },
        ("type",),
    )
    item = _object(
        {
            "type": {**STRING, "description": "`message` (the default), `function_call`, ..."},
            "role": {"enum": ["user", "assistant", "system", "developer"]},
            "content": {"oneOf": [STRING, {"type": "array", "items": part}]},
        }
    )
    return {
        "ResponseRequest": _object(
            {
                "model": MODEL,
                "input": {"oneOf": [STRING, _array(item)]},
                "instructions": STRING,
                "previous_response_id": {
                    **RESPONSE_ID,
                    "description": "answered by the server process that holds it; 404 when "
                    "this proxy never relayed it, 409 when that process has stopped since",
                },
                "max_output_tokens": {**INTEGER, "minimum": 1},
                "stream": BOOLEAN,
                "store": BOOLEAN,
                "background": BOOLEAN,
                "temperature": {**NUMBER, "minimum": 0, "maximum": 2},
                "top_p": {**NUMBER, "minimum": 0, "maximum": 1},
                "tools": {"type": "array", "items": {"type": "object"}},
                "tool_choice": {"oneOf": [STRING, {"type": "object"}]},
                "text": {"type": "object"},
                "reasoning": {"type": "object"},
                "metadata": {"type": "object", "additionalProperties": STRING},
                "user": STRING,
            },
            ("input",),
        ),
        "Response": _object(
            {
                "id": STRING,
                "object": {"const": "response"},
                "status": STRING,
                "model": STRING,
                "output": {"type": "array", "items": {"type": "object"}},
                "usage": {"type": "object"},
            },
            ("id", "object"),
        ),
    }


def _messages_schemas() -> dict[str, Schema]:
    """Anthropic's Messages API and its error shape."""
    block_types = ["text", "image", "document", "tool_use", "tool_result", "thinking"]
    block = _object({"type": {"enum": block_types}, "text": STRING}, ("type",))
    text_block = _object({"type": {"const": "text"}, "text": STRING}, ("type", "text"))
    message = _object(
        {
            "role": {"enum": ["user", "assistant"]},
            "content": {"oneOf": [STRING, {"type": "array", "items": block}]},
        },
        ("role", "content"),
    )
    fields: Schema = {
        "model": MODEL,
        "messages": _array(message),
        "system": {"oneOf": [STRING, {"type": "array", "items": text_block}]},
        "max_tokens": {**INTEGER, "minimum": 1},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"type": "object"},
    }
    sampling: Schema = {
        "stream": BOOLEAN,
        "temperature": {**NUMBER, "minimum": 0, "maximum": 1},
        "top_p": {**NUMBER, "minimum": 0, "maximum": 1},
        "top_k": {**INTEGER, "minimum": 0},
        "stop_sequences": {"type": "array", "items": STRING},
        "metadata": {"type": "object"},
        "thinking": {"type": "object"},
    }
    error = _object({"type": STRING, "message": STRING}, ("type", "message"))
    return {
        "MessagesRequest": _object({**fields, **sampling}, ("messages", "max_tokens")),
        "CountTokensRequest": _object(fields, ("messages",)),
        "Message": _object(
            {
                "id": STRING,
                "type": {"const": "message"},
                "role": {"const": "assistant"},
                "content": {"type": "array", "items": {"type": "object"}},
                "model": STRING,
                "stop_reason": {"type": ["string", "null"]},
                "usage": {"type": "object"},
            },
            ("id", "type", "content"),
        ),
        "TokenCount": _object({"input_tokens": INTEGER}, ("input_tokens",)),
        "AnthropicError": _object({"type": {"const": "error"}, "error": error}, ("type", "error")),
    }


ERRORS = {
    "400": "Malformed request: the message and `param` name the field",
    "401": "Missing or wrong API key",
    "404": "`model` names no server, route, intent or alias",
    "413": "An upload or a media URL over its limit",
    "429": "The key's rate or concurrency limit: see Retry-After",
    "503": "No server could answer (or the proxy is shutting down): see Retry-After",
}


# A request about one stored response (GET, cancel, a follow-up): proxy/held_responses.py
HELD = {
    "404": "No response with this id passed through this proxy (or it is forgotten)",
    "409": "The server process that held the response has stopped or restarted since",
}


def _responses(
    ok: Schema, description: str = "OK", error: str = "Error", more: dict[str, str] | None = None
) -> Schema:
    """200 and the errors every request may get, in the error shape named `error`; `more`
    adds or rewords error statuses."""
    shape = {"application/json": {"schema": _ref(error)}}
    responses: Schema = {"200": {"description": description, "content": ok}}
    errors = {**ERRORS, **(more or {})}
    responses.update({code: {"description": why, "content": shape} for code, why in errors.items()})
    return responses


def _json_body(name: str) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _generation(
    summary: str,
    request: str,
    answer: str = "Completion",
    error: str = "Error",
    more: dict[str, str] | None = None,
) -> Schema:
    ok = {
        "application/json": {"schema": _ref(answer)},
        "text/event-stream": {"schema": STRING},
    }
    said = "The answer; a stream when `stream` is true"
    return {
        "post": {
            "summary": summary,
            "requestBody": _json_body(request),
            "responses": _responses(ok, said, error, more),
        }
    }


def _post(summary: str, request: str, answer: str, error: str = "Error") -> Schema:
    ok = {"application/json": {"schema": _ref(answer)}}
    return {
        "post": {
            "summary": summary,
            "requestBody": _json_body(request),
            "responses": _responses(ok, error=error),
        }
    }


def _held(method: str, summary: str) -> Schema:
    """An operation on one stored response, by the id in its path."""
    parameter = {"name": "response_id", "in": "path", "required": True, "schema": RESPONSE_ID}
    ok = {"application/json": {"schema": _ref("Response")}}
    return {
        method: {
            "summary": summary,
            "parameters": [parameter],
            "responses": _responses(ok, more=HELD),
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
        "schema": {"enum": list(ENDPOINTS)},
    }
    model_id = {
        "name": "model_id",
        "in": "path",
        "required": True,
        "description": "as `GET /v1/models` lists it; may hold slashes",
        "schema": STRING,
    }
    return {
        CHAT: _generation("Chat completion, routed by intent", "ChatCompletionRequest"),
        COMPLETIONS: _generation("Text completion, routed by intent", "CompletionRequest"),
        RESPONSES: _generation(
            "OpenAI's Responses API, routed as chat; a follow-up goes to the server holding it",
            "ResponseRequest",
            "Response",
            more={
                "404": "`model` names nothing, or `previous_response_id` never passed this proxy",
                "409": HELD["409"],
            },
        ),
        RESPONSES + "/{response_id}": _held("get", "A stored response, from its server"),
        RESPONSES + "/{response_id}/cancel": _held("post", "Cancel a background response"),
        MESSAGES: _generation(
            "Anthropic's Messages API, routed as chat",
            "MessagesRequest",
            "Message",
            "AnthropicError",
        ),
        COUNT_TOKENS: _post(
            "Tokens a Messages request holds, by the model it would be routed to",
            "CountTokensRequest",
            "TokenCount",
            "AnthropicError",
        ),
        EMBEDDINGS: _post("Embeddings, by a pooling model", "EmbeddingRequest", "Embeddings"),
        RERANK: _post("Documents ranked by relevance to a query", "RerankRequest", "Reranking"),
        RERANK_V2: _post("Rerank in Cohere's v2 shape", "RerankRequest", "Reranking"),
        SCORE: _post("Relevance scores of text pairs", "ScoreRequest", "Scores"),
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
        "/v1/models/{model_id}": {
            "get": {
                "summary": "One model name: a server, route, intent or alias",
                "parameters": [model_id],
                "responses": _responses({"application/json": {"schema": _ref("Model")}}),
            }
        },
        "/health": {
            "get": {
                "summary": "For load balancers: 200 while the proxy takes requests",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Taking requests",
                        "content": {"application/json": {"schema": _ref("Health")}},
                    },
                    "503": {
                        "description": "Draining: shutting down, see Retry-After",
                        "content": {"application/json": {"schema": _ref("Error")}},
                    },
                },
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


def _ui_paths() -> dict[str, Schema]:
    """The status page (proxy/ui/) and its JSON: served while `proxy.ui.enabled`."""
    page = {
        "get": {
            "summary": "The status page (HTML; its script and style from /ui/static)",
            "security": [],
            "responses": {
                "200": {"description": "The page", "content": {"text/html": {"schema": STRING}}}
            },
        }
    }
    name = {"name": "name", "in": "path", "required": True, "schema": STRING}
    token = {
        "name": "x-modelyard-admin-token",
        "in": "header",
        "required": False,
        "description": "supervisor.admin_token: actions and log tails need it",
        "schema": STRING,
    }
    operator = {
        "401": "Missing or wrong admin token (`invalid_admin_token`)",
        "403": "No admin token is configured: the page is read-only (`ui_actions_disabled`)",
        "404": "No such server (or a remote one), or no such action",
        "503": "The supervisor did not answer, or a load found no room or failed",
    }
    state = {"application/json": {"schema": {"type": "object"}}}
    return {
        "/ui": page,
        "/ui/": page,
        "/ui/static/{name}": {
            "get": {
                "summary": "The page's script and style",
                "security": [],
                "parameters": [name],
                "responses": {
                    "200": {
                        "description": "The file",
                        "content": {"text/javascript": {"schema": STRING}, "text/css": {}},
                    },
                    "404": {"description": "Not one of the page's files"},
                },
            }
        },
        "/ui/api/state": {
            "get": {
                "summary": "Devices, servers, queue and recent requests: what the page shows",
                "parameters": [token],
                "responses": _responses(state),
            }
        },
        "/ui/api/servers/{name}/logs": {
            "get": {
                "summary": "A server's log tail, from `offset` (negative: from the end)",
                "parameters": [
                    name,
                    {"name": "offset", "in": "query", "required": False, "schema": INTEGER},
                    token,
                ],
                "responses": _responses(state, more=operator),
            }
        },
        "/ui/api/servers/{name}/{action}": {
            "post": {
                "summary": "Load, unload, sleep, wake, pin or unpin a server (admin token)",
                "parameters": [
                    name,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["load", "unload", "sleep", "wake", "pin", "unpin"]},
                    },
                    token,
                ],
                "responses": _responses(state, more={**operator, "409": "The engine refused"}),
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
        "paths": {**_paths(), **_ui_paths()},
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
        },
        # either: OpenAI's clients send a bearer token, Anthropic's `x-api-key`
        "security": [{"bearer": []}, {"apiKey": []}],
    }


def endpoint() -> Callable[[Request], Awaitable[Response]]:
    """The `GET /openapi.json` handler, with the document rendered once, now."""
    rendered = json.dumps(document()).encode()

    async def openapi(request: Request) -> Response:
        return Response(rendered, media_type="application/json")

    return openapi
