"""Secrets out of everything the supervisor shows: log banners, the admin API, failure reports.

Pure. The launcher still runs the real values; only what is displayed goes through here.

- An environment variable is secret when its name contains KEY, TOKEN, SECRET, PASSWORD,
  PASSWD, CREDENTIAL or AUTH (any case). Names are free-form (APIKEY, MYTOKEN), so a
  substring decides, and a harmless TOKENIZERS_PARALLELISM is hidden too: cheap to over-hide.
- A command-line value is secret when the flag before it (`--api-key V` or `--api-key=V`) has
  one of those words as a whole dash-separated word: a substring would hide the values of
  --max-num-batched-tokens and --tokenizer, which an operator reads when a start fails.
- A URL's user:password part is hidden wherever it appears (a proxy URL in HTTP_PROXY).
- Text the server printed itself (its log's tail) is scrubbed of the secret values its own
  command and env carry: vLLM prints its non-default arguments, api_key among them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

MASK = "***"

_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "credential", "auth")
_FLAG_WORDS = frozenset({*_SECRET_WORDS, "credentials", "apikey"})
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
# A secret shorter than this is not scrubbed out of free text: "1" or "on" would mask half a
# log line. Env values and flag values are masked whatever their length.
_MIN_SCRUB = 4


def secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def secret_flag(flag: str) -> bool:
    if not flag.startswith("-"):
        return False
    words = flag.lstrip("-").lower().replace("_", "-").split("-")
    return any(word in _FLAG_WORDS for word in words)


def url_userinfo(text: str) -> str:
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)


def env(values: Mapping[str, str]) -> dict[str, str]:
    return {k: MASK if secret_name(k) else url_userinfo(v) for k, v in values.items()}


def argv(args: Sequence[str]) -> list[str]:
    shown: list[str] = []
    hide_next = False
    for arg in args:
        if hide_next:
            shown.append(MASK)
            hide_next = False
        elif arg.startswith("-") and "=" in arg and secret_flag(arg.split("=", 1)[0]):
            shown.append(f"{arg.split('=', 1)[0]}={MASK}")
        else:
            shown.append(url_userinfo(arg))
            hide_next = secret_flag(arg)
    return shown


def secret_values(args: Sequence[str], values: Mapping[str, str]) -> set[str]:
    """The real values that argv() and env() hide: what scrub() looks for in free text."""
    found = {v for k, v in values.items() if secret_name(k)}
    for shown, real in zip(argv(args), args, strict=True):
        if shown == MASK:
            found.add(real)
        elif shown.endswith(f"={MASK}"):
            found.add(real.split("=", 1)[1])
    return {v for v in found if len(v) >= _MIN_SCRUB}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each secret (and any URL's user:password) masked."""
    for secret in sorted(secrets, key=len, reverse=True):  # a longer one may contain a shorter
        text = text.replace(secret, MASK)
    return url_userinfo(text)
