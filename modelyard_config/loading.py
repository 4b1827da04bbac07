"""Reading servers.yaml: YAML, the shipped intents merged in, the schema, the cross-checks.

Every problem is reported with its file and key path (``routes.agent[1]``), all at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from modelyard_config.checks import cross_reference_problems
from modelyard_config.errors import ConfigError
from modelyard_config.intents import with_default_intents
from modelyard_config.schema import Config


def load_config(path: str | Path) -> Config:
    """Read and validate one servers.yaml; raise ConfigError naming the file and key paths."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [("", f"cannot read file: {exc.strerror}")]) from exc
    return parse_config(read_yaml(text, source), source)


# Values a config may hold once its aliases are expanded: far beyond any real servers.yaml or
# LiteLLM config (hundreds), far below what an alias bomb (`a: &a [x, x]`, `b: &b [*a, *a]`,
# ...) expands to. Nine levels of nine take a few hundred bytes and are 387 million values.
MAX_VALUES = 100_000


def read_yaml(text: str, source: str) -> Any:
    """YAML from a file an operator was handed (a config, a LiteLLM config): an alias bomb is
    refused before anything walks it, since every reader walks the expanded tree."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(source, [("", f"not valid YAML: {exc}")]) from exc
    if _exceeds(data, MAX_VALUES):
        raise ConfigError(
            source,
            [("", f"more than {MAX_VALUES:,} values once its aliases (*name) are expanded")],
        )
    return data


def _exceeds(data: Any, limit: int) -> bool:
    """Whether `data` holds more than `limit` values, counting a shared node each time it is
    reached; stops counting at the limit, so a bomb costs `limit` steps, not its size."""
    seen, stack = 0, [data]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def parse_config(data: Any, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(source, [("", "top level must be a mapping with a 'servers' section")])
    try:
        config = Config.model_validate(with_default_intents(data))
    except ValidationError as exc:
        raise ConfigError(source, [(key_path(e["loc"]), e["msg"]) for e in exc.errors()]) from exc
    problems = cross_reference_problems(config)
    if problems:
        raise ConfigError(source, problems)
    return config


def key_path(loc: tuple[Any, ...]) -> str:
    """pydantic's location tuple as the dotted path an operator reads: `routes.agent[1]`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path
