"""One OpenAI error body, and the same status and code for the same fault from every server
modelyard runs (issue: "One room per concern")."""

from __future__ import annotations

import json

import pytest

from openai_wire.errors import ApiError, error_body, stream_error
from proxy import errors as proxy_errors
from sidecars.stt import errors as stt_errors
from sidecars.tts import errors as tts_errors


def _wire(error: ApiError) -> tuple[int, str, str | None]:
    body = error.body()["error"]
    assert set(body) == {"message", "type", "param", "code"}
    return error.status, body["type"], body["code"]


@pytest.mark.parametrize(
    "error",
    [
        proxy_errors.ModelNotFoundError("x", "model"),
        stt_errors.UnknownModelError("x", "model"),
        tts_errors.ModelNotFoundError("x", "model"),
    ],
    ids=["proxy", "stt", "tts"],
)
def test_an_unknown_model_is_a_404_model_not_found_everywhere(error: ApiError) -> None:
    assert _wire(error) == (404, "invalid_request_error", "model_not_found")


@pytest.mark.parametrize(
    "error",
    [proxy_errors.PayloadTooLargeError("x", "file"), stt_errors.PayloadTooLargeError("x", "file")],
    ids=["proxy", "stt"],
)
def test_an_oversize_upload_is_a_413_payload_too_large_everywhere(error: ApiError) -> None:
    assert _wire(error) == (413, "invalid_request_error", "payload_too_large")


def test_an_unsupported_language_has_one_code_in_both_sidecars() -> None:
    stt = stt_errors.UnsupportedLanguageError("x", "language")
    tts = tts_errors.UnsupportedLanguageError("x", "language")
    assert _wire(stt) == _wire(tts) == (400, "invalid_request_error", "unsupported_language")


def test_a_specific_code_keeps_its_family_status_and_type() -> None:
    error = proxy_errors.UnsupportedInputError("no server takes images", "messages")
    assert _wire(error) == (400, "invalid_request_error", "unsupported_input")
    assert error.body()["error"]["param"] == "messages"


def test_extra_fields_sit_beside_the_four() -> None:
    body = error_body("boom", "server_error", None, "server_start_failed", exit_code=3)
    assert body == {
        "error": {
            "message": "boom",
            "type": "server_error",
            "param": None,
            "code": "server_start_failed",
            "exit_code": 3,
        }
    }


def test_a_broken_stream_ends_with_an_error_event_then_done() -> None:
    first, second, rest = stream_error("upstream broke", "upstream_stream_error").split(b"\n\n")
    assert first.startswith(b"data: ") and second == b"data: [DONE]" and rest == b""
    error = json.loads(first[len(b"data: ") :])["error"]
    assert (error["code"], error["message"]) == ("upstream_stream_error", "upstream broke")
