"""Which recipe built a tiny model: the stamp a build leaves in its folder, and the numbers a
folder must match to count as built.

Why: models are built once into a cache that outlives checkouts (developers' machines, CI), and
a folder holding config.json looked finished forever, so a changed builder (a new chat template,
new tokens) never reached a cache built before it. Each kind now carries a recipe number, bumped
whenever what its builder writes changes; a folder whose stamp differs is stale and is rebuilt.

Both sides read this module, the project venv's catalog and the engine python's build, so it
imports nothing of the project.
"""

from __future__ import annotations

import json
import os
from typing import Any

STAMP_FILE = "modelyard-build.json"

# kind -> recipe. Bump a kind's number in the change that alters what its builder writes.
RECIPES: dict[str, int] = {
    "qwen2": 2,  # 2: chat template renders tools and tool calls; <tool_call> tags are tokens
    "qwen2-vl": 1,
    "whisper": 1,
    "qwen2-audio": 1,
    "xlm-roberta": 1,
    "xlm-roberta-rerank": 1,
}
# Folders built before stamps existed hold a kind's first recipe, by definition: they count as
# recipe 1 rather than stale, so kinds whose builder never changed are not rebuilt for nothing.
UNSTAMPED_RECIPE = 1


def stamp(kind: str, seed: int) -> dict[str, Any]:
    return {"kind": kind, "seed": seed, "recipe": RECIPES[kind]}


def write_stamp(folder: str, kind: str, seed: int) -> None:
    """Written last: a stamp also says the build that wrote it ran to the end."""
    with open(os.path.join(folder, STAMP_FILE), "w") as f:
        json.dump(stamp(kind, seed), f, indent=2)


def read_stamp(folder: str, kind: str, seed: int) -> dict[str, Any] | None:
    """The folder's stamp; None if it holds no model or an unreadable stamp."""
    if not os.path.isfile(os.path.join(folder, "config.json")):
        return None
    try:
        with open(os.path.join(folder, STAMP_FILE)) as f:
            found = json.load(f)
    except FileNotFoundError:
        return {"kind": kind, "seed": seed, "recipe": UNSTAMPED_RECIPE}
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def is_current(folder: str, kind: str, seed: int) -> bool:
    """Whether `folder` holds a finished model built by this kind's current recipe and seed."""
    return read_stamp(folder, kind, seed) == stamp(kind, seed)
