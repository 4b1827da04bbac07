"""The config package's one error: a servers.yaml that fails validation.

Every problem is a (key path, message) pair, all reported at once, so an operator fixes a
broken file in one pass rather than one error per restart.
"""

from __future__ import annotations


class ConfigError(Exception):
    """servers.yaml failed validation. `problems` holds (key path, message) pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [
            f"{source}: {path}: {message}" if path else f"{source}: {message}"
            for path, message in problems
        ]
        super().__init__("invalid configuration\n  " + "\n  ".join(lines))
