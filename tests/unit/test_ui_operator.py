"""Who is the operator of the status page (proxy/ui/operator.py): with no admin token
configured nobody is and every action is refused as "read-only" (403); with one, only the
caller whose `x-modelyard-admin-token` is that token (401 otherwise). A header with bytes
that are not ASCII is a refusal like any wrong token, never an error of another kind (a 500).
"""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from proxy.errors import AdminTokenError, AuthenticationError, UiActionsDisabledError
from proxy.ui.operator import HEADER, Operator

TOKEN = "ui-admin-token-3f9a"
ENV = "MODELYARD_ADMIN_TOKEN"


def wire(*values: bytes) -> Headers:
    """Headers as Starlette reads them off the wire (raw bytes, decoded as latin-1)."""
    return Headers(raw=[(HEADER.encode(), value) for value in values])


def test_without_a_token_configured_nobody_is_the_operator_and_actions_are_off() -> None:
    operator = Operator(None, ENV)
    assert operator.token_configured is False
    for headers in ({}, {HEADER: ""}, {HEADER: TOKEN}, {HEADER: "None"}):
        assert operator.recognises(headers) is False
    with pytest.raises(UiActionsDisabledError) as info:
        operator.require({HEADER: TOKEN})
    error = info.value
    assert (error.fault.status, error.fault.code) == (403, "ui_actions_disabled")
    assert "supervisor.admin_token" in str(error) and f"${ENV}" in str(error)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {HEADER: ""},
        {HEADER: TOKEN + "x"},
        {HEADER: TOKEN[:-1]},
        {HEADER: TOKEN.upper()},
        {"authorization": f"Bearer {TOKEN}"},  # the API key's header is not the admin token's
    ],
)
def test_a_missing_or_wrong_token_is_a_401(headers: dict[str, str]) -> None:
    operator = Operator(TOKEN, "OPS_TOKEN")
    assert operator.recognises(headers) is False
    with pytest.raises(AdminTokenError) as info:
        operator.require(headers)
    error = info.value
    assert isinstance(error, AuthenticationError)
    assert (error.fault.status, error.fault.code) == (401, "invalid_admin_token")
    assert error.fault.type == "authentication_error"
    assert HEADER in str(error) and "$OPS_TOKEN" in str(error)
    assert TOKEN not in str(error)


def test_the_right_token_is_the_operator() -> None:
    operator = Operator(TOKEN, ENV)
    assert operator.token_configured is True
    assert operator.recognises({HEADER: TOKEN}) is True
    assert operator.recognises(wire(TOKEN.encode())) is True
    operator.require({HEADER: TOKEN})
    operator.require(wire(TOKEN.encode()))


@pytest.mark.parametrize(
    "value",
    [
        "tökén".encode(),  # UTF-8, read as latin-1
        "tökén".encode("latin-1"),
        b"\xff\xfe\x80",
        TOKEN.encode() + b"\xc3",
        "токен".encode(),
    ],
)
def test_a_header_that_is_not_ascii_is_a_plain_refusal(value: bytes) -> None:
    operator = Operator(TOKEN, ENV)
    assert operator.recognises(wire(value)) is False
    with pytest.raises(AdminTokenError):
        operator.require(wire(value))


def test_a_non_ascii_string_from_a_mapping_is_a_plain_refusal_too() -> None:
    operator = Operator(TOKEN, ENV)
    for value in ("tökén", "токен", "\udcff\udc80"):
        assert operator.recognises({HEADER: value}) is False
        with pytest.raises(AdminTokenError):
            operator.require({HEADER: value})


def test_a_string_utf8_cannot_encode_is_a_plain_refusal_too() -> None:
    """Starlette's headers never hold a lone surrogate (it decodes them as latin-1), but
    `recognises` takes any mapping of strings: one that UTF-8 cannot encode must be a wrong
    token like any other, not a UnicodeEncodeError (a 500 for whoever asked)."""
    operator = Operator(TOKEN, ENV)
    for value in ("\ud800", TOKEN + "\udfff"):
        assert operator.recognises({HEADER: value}) is False
        with pytest.raises(AdminTokenError):
            operator.require({HEADER: value})
