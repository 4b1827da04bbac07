"""`modelyard route` builds the body a client would send to each endpoint: each must pass the
proxy's own checks for that endpoint and carry the prompt where the classifier reads it."""

from __future__ import annotations

import pytest

from modelyard_config.endpoints import AUDIO_UPLOADS, ENDPOINTS
from modelyard_config.limits import Limits
from proxy.classify.features import extract
from proxy.cli import build_body
from proxy.validate import check_body

JSON_ENDPOINTS = [e for e in ENDPOINTS if e not in AUDIO_UPLOADS]


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
def test_each_endpoints_body_passes_its_checks_and_carries_the_prompt(endpoint: str) -> None:
    body = build_body("translate this sentence", [], None, [], endpoint, "auto", ["a document"])
    check_body(endpoint, body, Limits())
    assert "translate this sentence" in extract(endpoint, body).text


@pytest.mark.parametrize("endpoint", ["/v1/responses", "/v1/messages"])
def test_an_image_is_spelled_in_each_apis_own_way_and_seen_as_an_image(endpoint: str) -> None:
    body = build_body("what is this", ["https://example.com/a.png"], None, [], endpoint, "auto")
    check_body(endpoint, body, Limits())
    assert extract(endpoint, body).image
