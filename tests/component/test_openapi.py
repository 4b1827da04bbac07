"""`GET /openapi.json` (proxy/openapi.py) describes every route the app serves, in a document
that an OpenAPI tool loads: the fuzzer (`make fuzz`) and users' client generators rely on it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import schemathesis
from starlette.routing import Route

from modelyard_config.endpoints import ANTHROPIC, ENDPOINTS
from proxy.app import create_app
from tests.component.test_proxy_app import FakeAdmin, config, serving


@pytest.fixture
async def served() -> AsyncIterator[tuple[dict[str, Any], list[Route]]]:
    app = create_app(config(), FakeAdmin("http://127.0.0.1:9"))
    async with serving(app) as client:
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        routes = [r for r in app.routes if isinstance(r, Route)]
        yield response.json(), routes


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].rsplit("/", 1)[1]
    resolved: dict[str, Any] = document["components"]["schemas"][name]
    return resolved


async def test_every_route_the_app_serves_is_described_with_its_methods(
    served: tuple[dict[str, Any], list[Route]],
) -> None:
    document, routes = served
    # OpenAPI has no path convertors: Starlette's {model_id:path} is {model_id} there
    served_ops = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", r.path), m.lower())
        for r in routes
        for m in r.methods or ()
        if m != "HEAD"
    } - {("/openapi.json", "get")}
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert described == served_ops


async def test_bodies_allow_extra_fields_and_errors_are_in_their_apis_shape(
    served: tuple[dict[str, Any], list[Route]],
) -> None:
    document, _ = served
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert document["security"] == [{"bearer": []}, {"apiKey": []}]  # either one
    schemas = document["components"]["schemas"]
    assert set(schemas["Error"]["properties"]["error"]["required"]) == {
        "message",
        "type",
        "param",
        "code",
    }
    assert set(schemas["AnthropicError"]["required"]) == {"type", "error"}
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if op.get("security") != []:  # /health, /metrics, the page: no key, no input, no 400
                shape = "AnthropicError" if path in ANTHROPIC else "Error"
                assert op["responses"]["400"]["content"]["application/json"]["schema"] == {
                    "$ref": f"#/components/schemas/{shape}"
                }, (method, path)
            if "requestBody" not in op:
                continue
            for media in op["requestBody"]["content"].values():
                schema = media["schema"]
                if "$ref" in schema:
                    schema = resolve(document, schema)
                assert schema.get("additionalProperties", True) is True, (method, path)


async def test_an_openapi_tool_loads_it_with_all_twenty_five_operations(
    served: tuple[dict[str, Any], list[Route]],
) -> None:
    document, _ = served
    schema = schemathesis.openapi.from_dict(document)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels == {
        "POST /v1/chat/completions",
        "POST /v1/completions",
        "POST /v1/audio/transcriptions",
        "POST /v1/audio/translations",
        "POST /v1/audio/speech",
        "POST /v1/embeddings",
        "POST /v1/rerank",
        "POST /v2/rerank",
        "POST /v1/score",
        "POST /v1/responses",
        "GET /v1/responses/{response_id}",
        "POST /v1/responses/{response_id}/cancel",
        "POST /v1/messages",
        "POST /v1/messages/count_tokens",
        "GET /v1/models",
        "GET /v1/models/{model_id}",
        "GET /health",
        "POST /route",
        "GET /metrics",
        "GET /ui",
        "GET /ui/",
        "GET /ui/static/{name}",
        "GET /ui/api/state",
        "GET /ui/api/servers/{name}/logs",
        "POST /ui/api/servers/{name}/{action}",
    }


async def test_route_takes_every_endpoint_the_proxy_routes(
    served: tuple[dict[str, Any], list[Route]],
) -> None:
    document, _ = served
    (parameter,) = document["paths"]["/route"]["post"]["parameters"]
    assert parameter["schema"]["enum"] == list(ENDPOINTS)


async def test_it_needs_no_key_even_when_keys_are_configured() -> None:
    app = create_app(config(api_keys=["sk-test"]), FakeAdmin("http://127.0.0.1:9"))
    async with serving(app) as client:
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/v1/models")).status_code == 401
