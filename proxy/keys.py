"""The proxy's API keys, gathered once at start from every source the config names:
`proxy.access.keys`, the short form `proxy.api_keys`, the environment variable
`proxy.access.keys_env` and the file `proxy.access.keys_file`.

A file line, or an entry of the variable (comma- or newline-separated), is
`KEY [NAME] [rpm=N] [concurrent=N]`; `#` starts a comment. A limit not given is the
`proxy.access.key_limits` one. A bad line is a ConfigError naming its file and line, never the
key. Only each key's SHA-256 digest is kept: a key cannot reach a log, a message or a metric,
and every comparison is between two 32-byte digests, whatever the keys' lengths.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard_config import ConfigError
from modelyard_config.access import ApiKey, KeyLimits
from modelyard_config.proxy import ProxySettings
from openai_wire.bearer import digest, same

MIN_LENGTH = 8
_FIELDS = {"rpm": "requests_per_minute", "concurrent": "max_concurrent"}


@dataclass(frozen=True)
class Key:
    label: str  # its name, or "key-" and four hex digits of its digest: for logs and metrics
    digest: bytes
    limits: KeyLimits


class KeySet:
    def __init__(self, keys: Iterable[Key]) -> None:
        self.keys = tuple(keys)

    def __bool__(self) -> bool:
        return bool(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    def match(self, presented: bytes) -> Key | None:
        """The key `presented` is, compared with every key (no early exit), so the time taken
        says neither whether nor which key matched."""
        given = digest(presented)
        found = None
        for key in self.keys:
            if same(given, key.digest):
                found = key
        return found


def load_keys(settings: ProxySettings, environ: Mapping[str, str]) -> KeySet:
    """Every key from every source; a ConfigError when one is malformed or given twice."""
    access = settings.access
    found: list[tuple[str, Key]] = []
    problems: list[tuple[str, str]] = []
    configured = [(f"proxy.access.keys[{i}]", entry) for i, entry in enumerate(access.keys)]
    configured += [(f"proxy.api_keys[{i}]", plain) for i, plain in enumerate(settings.api_keys)]
    for where, entry in configured:
        try:
            found.append((where, _from_config(entry, access.key_limits)))
        except ValueError as exc:
            problems.append((where, str(exc)))
    if problems:
        raise ConfigError("config", problems)
    text = environ.get(access.keys_env, "")
    entries = text.replace(",", "\n").splitlines()
    found += _parse(entries, f"${access.keys_env}", "entry", access.key_limits)
    if access.keys_file is not None:
        found += _parse(_read(access.keys_file), access.keys_file, "line", access.key_limits)
    return KeySet(_unique(found))


def _read(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        problem = [("", f"cannot read the keys file (proxy.access.keys_file): {why}")]
        raise ConfigError(path, problem) from exc


def _parse(lines: list[str], source: str, unit: str, default: KeyLimits) -> list[tuple[str, Key]]:
    keys: list[tuple[str, Key]] = []
    problems: list[tuple[str, str]] = []
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = f"{unit} {number}"
        try:
            keys.append((f"{source}: {where}", _parse_words(words, default)))
        except ValueError as exc:
            problems.append((where, str(exc)))
    if problems:
        raise ConfigError(source, problems)
    return keys


def _parse_words(words: list[str], default: KeyLimits) -> Key:
    secret, rest = words[0], words[1:]
    name = None
    if rest and "=" not in rest[0]:
        name, rest = rest[0], rest[1:]
    limits: dict[str, int] = {}
    for word in rest:
        field, _, value = word.partition("=")
        if field not in _FIELDS:
            raise ValueError(f"unknown field {word!r}: expected NAME, rpm=N or concurrent=N")
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{field} must be a whole number of at least 1, not {value!r}")
        limits[_FIELDS[field]] = int(value)
    return _key(secret, name, default.model_copy(update=limits))


def _from_config(entry: str | ApiKey, default: KeyLimits) -> Key:
    if isinstance(entry, str):
        # The schema checks proxy.access.keys' lengths; the short form proxy.api_keys never
        # had a minimum, and a config that started before must start now.
        return _key(entry, None, default, min_length=1)
    # A limit the entry sets is its own, even `null` (unlimited); one it leaves out is the default.
    own = {f: getattr(entry, f) for f in KeyLimits.model_fields if f in entry.model_fields_set}
    return _key(entry.key, entry.name, default.model_copy(update=own))


def _key(secret: str, name: str | None, limits: KeyLimits, min_length: int = MIN_LENGTH) -> Key:
    if len(secret) < min_length:
        raise ValueError(f"a key must be at least {min_length} characters")
    if not (secret.isascii() and secret.isprintable()) or any(c in secret for c in " ,#"):
        raise ValueError("a key must be printable ASCII without spaces, commas or '#'")
    kept = digest(secret.encode())
    return Key(name or f"key-{kept.hex()[:4]}", kept, limits)


def _unique(found: list[tuple[str, Key]]) -> list[Key]:
    first: dict[bytes, str] = {}
    problems = []
    for where, key in found:
        if key.digest in first:
            problems.append((where, f"the same key as {first[key.digest]}"))
        first.setdefault(key.digest, where)
    if problems:
        raise ConfigError("API keys", problems)
    return [key for _, key in found]
