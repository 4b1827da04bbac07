"""The learned switch costs of every server, kept in the state directory across restarts.

One small JSON file, written whole (temp file, then rename) after each observed switch: a
crash mid-write leaves the previous file, and anything unreadable in it falls back to the
config's priors (costs.Costs.from_dict), so a bad file costs a few imprecise predictions and
never stops the supervisor. A server whose launch settings changed keeps its numbers: the
estimate follows the new reality within a few switches (costs.MIN_STEP).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from supervisor.costs import Costs, SwitchTimes

log = logging.getLogger("modelyard.supervisor")

VERSION = 1


def load(path: Path, priors: Mapping[str, SwitchTimes]) -> dict[str, Costs]:
    """Costs for every server in `priors` (the config's), learned ones where the file has them."""
    saved: object = {}
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict) and data.get("version") == VERSION:
            saved = data.get("servers", {})
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("ignoring the switch costs in %s (%s): starting from the priors", path, exc)
    servers = saved if isinstance(saved, dict) else {}
    return {name: Costs.from_dict(servers.get(name), prior) for name, prior in priors.items()}


def save(path: Path, costs: Mapping[str, Costs]) -> None:
    """Raises OSError (a full disk): the caller decides whether that matters."""
    body = {"version": VERSION, "servers": {name: c.to_dict() for name, c in costs.items()}}
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
