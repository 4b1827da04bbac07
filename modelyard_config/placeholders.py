"""`{name}` placeholders in command templates, env values and model paths.

The names a template may use are checked at load time; `fill` replaces them at launch.
`{identifier}` only: JSON arguments such as --limit-mm-per-prompt '{"image": 8}' stay literal.
"""

from __future__ import annotations

import re

# Placeholders a command template (and an env value) may use; the supervisor fills them.
PLACEHOLDERS = frozenset(
    {
        "tensor_parallel_size",
        "model",
        "served_name",
        "name",
        "host",
        "port",
        "engine_python",
        "python",
        "media_libs",
        "models_dir",
        "gpu_memory_utilization",
    }
)
# Placeholders a model path may use (it is filled before the command is).
MODEL_PLACEHOLDERS = frozenset({"models_dir"})
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(template: str, values: dict[str, str]) -> str:
    """Replace `{name}` placeholders; config validation has already rejected unknown names."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def unknown(path: str, template: str, allowed: frozenset[str]) -> list[tuple[str, str]]:
    """(key path, message) for each placeholder in `template` that is not `allowed`."""
    return [
        (path, f"unknown placeholder {{{name}}}; known: {', '.join(sorted(allowed))}")
        for name in PLACEHOLDER.findall(template)
        if name not in allowed
    ]
