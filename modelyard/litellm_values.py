"""Values in a LiteLLM config that must not reach servers.yaml as written: environment
references (`os.environ/NAME`, which LiteLLM resolves when it loads) and secrets.

A servers.yaml is committed, shared and printed; a key in it is a leaked key. So a literal
secret is never carried over (only noted, by key path, never by value), and a reference is
resolved from the environment only when the operator asked for it (`--resolve-env`) and
never for a secret, whose value would then be written out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ENV_PREFIX = "os.environ/"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Key names that hold credentials in LiteLLM's params and its providers' (aws_secret_access_key,
# vertex_credentials, azure_ad_token, extra_headers' Authorization); `max_tokens` is not one.
_SECRET_KEY = re.compile(
    r"(api[_-]?key|secret|password|passwd|credential|authorization|access[_-]?key|"
    r"private[_-]?key|(^|[_-])token$)",
    re.IGNORECASE,
)

# dropped: something in the LiteLLM config that servers.yaml does not carry (a source key
# path); review: something the output holds that an operator should look at (an output path).
NoteKind = Literal["dropped", "review"]


@dataclass(frozen=True)
class Note:
    kind: NoteKind
    path: str
    message: str


@dataclass
class Notes:
    """What an import leaves out or wants looked at, in the order it was found."""

    items: list[Note] = field(default_factory=list)

    def dropped(self, path: str, message: str) -> None:
        self.items.append(Note("dropped", path, message))

    def review(self, path: str, message: str) -> None:
        self.items.append(Note("review", path, message))


def env_ref(value: Any) -> str | None:
    """NAME for LiteLLM's `os.environ/NAME`, else None."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        return value[len(ENV_PREFIX) :]
    return None


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


@dataclass
class Values:
    """Reads values out of the LiteLLM config, noting each one it cannot carry.

    `environ` is the environment to resolve references from; None: references are noted,
    not resolved (the default: an import should not depend on the shell it ran in).
    """

    notes: Notes
    environ: Mapping[str, str] | None = None

    def plain(self, path: str, value: Any, fix: str) -> tuple[bool, Any]:
        """(True, value) to carry over, or (False, None) with a note. `fix` says where the
        operator sets it by hand."""
        name = env_ref(value)
        if name is None:
            return True, value
        if self.environ is None:
            self.notes.dropped(
                path, f"{value} is not resolved at import: {fix}, or rerun with --resolve-env"
            )
            return False, None
        if name not in self.environ:
            self.notes.dropped(path, f"{value}: {name} is not set in this environment; {fix}")
            return False, None
        return True, self.environ[name]

    def params(self, path: str, value: Any, fix: str) -> tuple[bool, Any]:
        """A parameter passed to LiteLLM as it is (remote.params): nested mappings and lists
        are walked, and a secret or an unresolved reference anywhere in them is left out."""
        if isinstance(value, Mapping):
            kept = {}
            for key, item in value.items():
                where = f"{path}.{key}"
                if is_secret_key(str(key)) and item is not None:
                    self._secret(where, item)
                    continue
                ok, carried = self.params(where, item, fix)
                if ok:
                    kept[str(key)] = carried
            return True, kept
        if isinstance(value, list):
            items = [self.params(f"{path}[{i}]", item, fix) for i, item in enumerate(value)]
            return True, [carried for ok, carried in items if ok]
        return self.plain(path, value, fix)

    def _secret(self, path: str, value: Any) -> None:
        if env_ref(value) is not None:
            self.notes.dropped(
                path,
                f"{value} is a credential servers.yaml has no place for: export the variable "
                "LiteLLM reads for this provider in the proxy's environment",
            )
        else:
            self.notes.dropped(
                path,
                "a literal credential is never written to servers.yaml: export the variable "
                "LiteLLM reads for this provider in the proxy's environment",
            )
