"""The intents modelyard ships (default_intents.yaml), merged under a config's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_INTENTS = Path(__file__).with_name("default_intents.yaml")


def default_intents() -> dict[str, Any]:
    loaded = yaml.safe_load(DEFAULT_INTENTS.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), DEFAULT_INTENTS
    return loaded


def with_default_intents(data: dict[str, Any]) -> dict[str, Any]:
    """The shipped intents, then the config's own on top by name; `NAME: null` drops one.
    Anything malformed is left as it is for validation to report with its key path."""
    classifier = data.get("classifier", {})
    if not isinstance(classifier, dict) or classifier.get("default_intents") is False:
        return data
    own = classifier.get("intents") or {}
    routes = data.get("routes") or {}
    if not isinstance(own, dict) or not isinstance(routes, dict):
        return data
    # A shipped intent with no route to serve it is left out (a text-only deployment needs
    # no tts route); an intent the config declares itself must have one.
    shipped = {
        name: spec
        for name, spec in default_intents().items()
        if name in own or spec.get("route", name) in routes
    }
    merged = {k: v for k, v in {**shipped, **own}.items() if v is not None}
    return {**data, "classifier": {**classifier, "intents": merged}}
