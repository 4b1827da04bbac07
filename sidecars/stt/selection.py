"""Pure choices for one request: which loaded model answers it, and which language hint to pass.

Model names: each loaded model answers to its own name (`base`, `tiny.en`, a `--model-dir`
name). `whisper-1`, OpenAI's only Whisper model, and an absent `model` mean the default, the
first loaded (base when installed, being multilingual). Any other name, OpenAI's
`gpt-4o-transcribe` included, is a 400 listing the names that work: silently answering a
different model than the one asked for would hide a misconfigured client.

Language: the form's `language` is the client's word and is checked (a 400 if the model
cannot take it). The proxy's `x-modelyard-language` header is a guess from text, so it is
used only when it names a language the model speaks, and otherwise ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from sidecars.stt.engine import Engine, Task
from sidecars.stt.errors import UnknownModelError, UnsupportedLanguageError, UnsupportedTaskError

DEFAULT_ALIASES = frozenset({"whisper-1"})
LANGUAGE_HEADER = "x-modelyard-language"


def pick_engine(engines: Mapping[str, Engine], requested: str | None, task: Task) -> Engine:
    if not engines:
        raise RuntimeError("no engines loaded")  # the CLI refuses to start without one
    if requested is None or requested in DEFAULT_ALIASES:
        engine = next(iter(engines.values()))
    elif requested in engines:
        engine = engines[requested]
    else:
        known = ", ".join([*engines, *sorted(DEFAULT_ALIASES)])
        raise UnknownModelError(
            f"Model {requested!r} is not served here. Known models: {known}.", param="model"
        )
    if task == "translate" and not engine.can_translate:
        translators = [name for name, e in engines.items() if e.can_translate]
        hint = f"; use {' or '.join(translators)}" if translators else ""
        raise UnsupportedTaskError(
            f"Model {engine.name!r} is English-only and cannot translate{hint}.", param="model"
        )
    return engine


def pick_language(engine: Engine, form_language: str | None, header_hint: str | None) -> str | None:
    if form_language is not None:
        code = _primary(form_language)
        if code not in engine.languages:
            raise UnsupportedLanguageError(_refusal(engine, form_language), param="language")
        return code
    if header_hint is not None and _primary(header_hint) in engine.languages:
        return _primary(header_hint)
    return None


def _primary(tag: str) -> str:
    """ISO 639-1 from a BCP 47 tag: "en-US" and "pt_BR" reach Whisper as "en" and "pt"."""
    return tag.strip().replace("_", "-").split("-", 1)[0].lower()


def _refusal(engine: Engine, asked: str) -> str:
    if len(engine.languages) == 1:
        (only,) = engine.languages
        return f"Model {engine.name!r} transcribes only {only!r}; language {asked!r} is not."
    return (
        f"Language {asked!r} is not supported by model {engine.name!r}; "
        "use an ISO 639-1 code such as 'en', 'hi' or 'fr'."
    )
