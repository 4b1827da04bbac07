"""API keys: gathered from the config's two forms and the environment, each with its limits;
a malformed entry is a ConfigError naming where it is and never the key; the Bearer header is
read as clients actually send it."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard_config import ConfigError, parse_config
from modelyard_config.access import KeyLimits
from openai_wire.bearer import bearer
from proxy.auth import authenticate
from proxy.errors import AuthenticationError
from proxy.keys import KeySet, load_keys


def settings(**proxy: Any) -> Any:
    data = {
        "supervisor": {"defaults": {"command": ["serve", "{model}"]}},
        "servers": {"a": {"model": "m"}},
        "routes": {"agent": ["a"]},
        "proxy": proxy,
    }
    return parse_config(data).proxy


def test_keys_come_from_the_config_the_short_form_and_the_environment() -> None:
    proxy = settings(
        access={
            "keys": ["sk-plain-one", {"key": "sk-named-two", "name": "alice", "max_concurrent": 2}],
            "key_limits": {"requests_per_minute": 60},
        },
        api_keys=["legacy"],  # the short form never had a minimum length
    )
    env = {"MODELYARD_API_KEYS": "sk-env-three bob rpm=5, sk-env-four\nsk-env-five"}
    keys = load_keys(proxy, env)
    limits = {k.label: k.limits for k in keys.keys}
    assert len(keys) == 6
    assert limits["alice"] == KeyLimits(requests_per_minute=60, max_concurrent=2)
    assert limits["bob"] == KeyLimits(requests_per_minute=5)
    for secret in ("sk-plain-one", "legacy", "sk-env-four", "sk-env-five"):
        key = keys.match(secret.encode())
        assert key is not None and key.limits == KeyLimits(requests_per_minute=60)
        assert key.label.startswith("key-") and secret not in key.label


def test_a_limit_set_to_null_on_a_key_is_unlimited_not_the_default() -> None:
    proxy = settings(
        access={
            "keys": [{"key": "sk-unlimited", "requests_per_minute": None}],
            "key_limits": {"requests_per_minute": 10},
        }
    )
    key = load_keys(proxy, {}).match(b"sk-unlimited")
    assert key is not None and key.limits.requests_per_minute is None


def test_another_variable_is_read_when_the_config_names_it() -> None:
    proxy = settings(access={"keys_env": "TEAM_KEYS"})
    assert not load_keys(proxy, {"MODELYARD_API_KEYS": "sk-ignored-1"})
    assert load_keys(proxy, {"TEAM_KEYS": "sk-team-key"}).match(b"sk-team-key") is not None


def test_a_bad_entry_in_the_environment_names_the_variable_and_entry_but_not_the_key() -> None:
    env = {"MODELYARD_API_KEYS": "sk-good-key,short,sk-other-key rpm=fast"}
    with pytest.raises(ConfigError) as info:
        load_keys(settings(), env)
    text = str(info.value)
    assert "$MODELYARD_API_KEYS: entry 2: a key must be at least 8 characters" in text
    assert "$MODELYARD_API_KEYS: entry 3: rpm must be a whole number" in text
    assert "sk-good-key" not in text and "sk-other-key" not in text


def test_the_same_key_twice_is_an_error_naming_both_places() -> None:
    proxy = settings(api_keys=["sk-twice-over"])
    with pytest.raises(ConfigError) as info:
        load_keys(proxy, {"MODELYARD_API_KEYS": "sk-twice-over"})
    assert info.value.problems == [
        ("$MODELYARD_API_KEYS: entry 1", "the same key as proxy.api_keys[0]")
    ]


@pytest.mark.parametrize(
    ("header", "presented"),
    [
        (b"Bearer sk-right-key", b"sk-right-key"),
        (b"bearer sk-right-key", b"sk-right-key"),
        (b" BEARER   sk-right-key  ", b"sk-right-key"),
        (b"Basic sk-right-key", None),
        (b"Bearer ", None),
    ],
)
def test_the_bearer_scheme_in_any_case_with_spaces_around(
    header: bytes, presented: bytes | None
) -> None:
    assert bearer(header) == presented


def test_authenticate_names_no_key_and_refuses_what_matches_nothing() -> None:
    keys = KeySet(load_keys(settings(api_keys=["sk-right-key"]), {}).keys)
    assert authenticate(keys, b"Bearer sk-right-key").label.startswith("key-")
    for header in (None, b"", b"Basic sk-right-key", b"Bearer", b"Bearer sk-\xe9", b"sk-right-key"):
        with pytest.raises(AuthenticationError) as info:
            authenticate(keys, header)
        assert "sk-right-key" not in info.value.message
