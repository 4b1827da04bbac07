"""LiteLLM's settings sections: the few with a modelyard counterpart, and notes for the rest.

LiteLLM reads some settings from either `router_settings` (its Router's arguments) or
`litellm_settings` (module globals), and the Router's wins; so does the import's.
"""

from __future__ import annotations

from typing import Any

from modelyard.litellm_values import Notes, Values

SECTIONS = ("router_settings", "litellm_settings")
# A meaning -> where LiteLLM reads it, the winning place first.
SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "fallbacks": (("router_settings", "fallbacks"), ("litellm_settings", "fallbacks")),
    "default_fallbacks": (
        ("router_settings", "default_fallbacks"),
        ("litellm_settings", "default_fallbacks"),
    ),
    "max_fallbacks": (("router_settings", "max_fallbacks"), ("litellm_settings", "max_fallbacks")),
    "num_retries": (("router_settings", "num_retries"), ("litellm_settings", "num_retries")),
    "timeout": (("router_settings", "timeout"), ("litellm_settings", "request_timeout")),
    "allowed_fails": (("router_settings", "allowed_fails"), ("litellm_settings", "allowed_fails")),
    "cooldown_time": (("router_settings", "cooldown_time"),),
    "model_group_alias": (("router_settings", "model_group_alias"),),
}
# Top-level sections, besides model_list and the two above, each noted key by key.
SECTION_NOTES = {
    "general_settings": "a LiteLLM proxy server setting (keys, database, auth): modelyard's own "
    "are in servers.yaml's proxy section",
    "environment_variables": "set it in the environment modelyard runs in",
}
_UNMAPPED = {
    "context_window_fallbacks": "modelyard falls back on failures, not on context-window errors",
    "content_policy_fallbacks": "modelyard falls back on failures, not on content-policy errors",
}
_TOP_LEVEL = {
    "include": "other config files are not read: merge their model_list into this one first",
    "credential_list": "credentials stored in LiteLLM: export each key and name its variable in "
    "remote.api_key_env",
}
_OTHER = "a LiteLLM setting with no counterpart in servers.yaml (callbacks, caching, routing "
_OTHER += "strategy, budgets, ...)"


def pick(data: dict[str, Any], meaning: str, notes: Notes) -> tuple[str, Any] | None:
    """(key path, value) of the setting LiteLLM would use; a losing one is noted."""
    found = [
        (f"{section}.{key}", data[section][key])
        for section, key in SOURCES[meaning]
        if isinstance(data.get(section), dict) and data[section].get(key) is not None
    ]
    for path, _ in found[1:]:
        notes.dropped(path, f"{found[0][0]} wins, in LiteLLM too")
    return found[0] if found else None


def proxy_section(data: dict[str, Any], values: Values) -> dict[str, Any]:
    """servers.yaml's `proxy` keys the settings give: retries, the timeout, the breaker."""
    proxy: dict[str, Any] = {}
    notes = values.notes
    retries = _count(data, "num_retries", values)
    if retries is not None:
        proxy["retry"] = {"attempts": retries + 1}  # LiteLLM counts retries, modelyard tries
    timeout = _count(data, "timeout", values, seconds=True)
    if timeout is not None:
        proxy["request_timeout"] = timeout
    cooldown: dict[str, Any] = {}
    fails = _count(data, "allowed_fails", values)
    if fails is not None:
        # LiteLLM cools a deployment down past `allowed_fails` failures in a minute
        cooldown.update(failures=fails + 1, window=60.0)
    period = _count(data, "cooldown_time", values, seconds=True)
    if period is not None:
        cooldown["period"] = period
    if cooldown:
        proxy["cooldown"] = cooldown
    _note_unmapped(data, notes)
    return proxy


def _count(
    data: dict[str, Any], meaning: str, values: Values, seconds: bool = False
) -> float | int | None:
    picked = pick(data, meaning, values.notes)
    if picked is None:
        return None
    path, raw = picked
    ok, value = values.plain(path, raw, "set it in servers.yaml's proxy section")
    if not ok:
        return None
    try:
        number = float(value) if seconds else int(value)
    except (TypeError, ValueError):
        number = -1
    if isinstance(value, bool) or number < 0 or (seconds and number == 0):
        values.notes.dropped(path, f"{value!r} is not a number of the right kind")
        return None
    return number


def _note_unmapped(data: dict[str, Any], notes: Notes) -> None:
    used = {(section, key) for sources in SOURCES.values() for section, key in sources}
    for section in SECTIONS:
        for key in data.get(section) or {}:
            if (section, key) not in used:
                notes.dropped(f"{section}.{key}", _UNMAPPED.get(key, _OTHER))
    for section, message in SECTION_NOTES.items():
        value = data.get(section)
        if isinstance(value, dict):
            for key in value:
                notes.dropped(f"{section}.{key}", message)
        elif value is not None:
            notes.dropped(section, message)
    for key in data:
        if key not in ("model_list", *SECTIONS, *SECTION_NOTES):
            message = "a LiteLLM config section servers.yaml has no counterpart for"
            notes.dropped(key, _TOP_LEVEL.get(key, message))
