"""LiteLLM's `fallbacks` as the order in which modelyard tries servers.

LiteLLM walks fallbacks depth first: when `a` fails it tries `a`'s first fallback, and when
that fails too, that one's own fallbacks, before `a`'s second; a group already tried is not
tried again, and past `max_fallbacks` hops a fallback's own fallbacks are not followed (its
router, fallback_event_handlers.py). A modelyard route is a flat chain, so each model_name
with fallbacks becomes the chain that walk would try, in the same order.
"""

from __future__ import annotations

from typing import Any

from modelyard.litellm_values import Notes

# LiteLLM's ROUTER_MAX_FALLBACKS when neither settings section sets max_fallbacks.
DEFAULT_MAX_FALLBACKS = 5
GENERIC = "*"  # a fallback list for every model_name without its own

Table = dict[str, list[str]]


def shape_problems(path: str, fallbacks: Any) -> list[tuple[str, str]]:
    """LiteLLM's own rule: a list of one-key mappings, each `{model_name: [fallback, ...]}`."""
    if not isinstance(fallbacks, list):
        return [(path, "expected a list of {model_name: [fallback, ...]}")]
    problems = []
    for i, item in enumerate(fallbacks):
        if not isinstance(item, dict) or len(item) != 1:
            problems.append((f"{path}[{i}]", "expected one {model_name: [fallback, ...]}"))
        elif not isinstance(next(iter(item.values())), list):
            key = next(iter(item))
            problems.append((f"{path}[{i}].{key}", "expected a list of model_names"))
    return problems


def read_table(
    path: str,
    fallbacks: list[dict[str, list[Any]]],
    default: tuple[str, list[Any]] | None,
    carried: set[str],
    skipped: dict[str, str],
    notes: Notes,
) -> Table:
    """model_name (or "*") -> the model_names it falls back to, each of them carried over.

    `skipped` maps a model_name that is not carried over to its entry's key path. A first
    entry for a name wins, as in LiteLLM; `default_fallbacks` is LiteLLM's generic entry,
    added after the others.
    """
    # (key path of the source, source, key path the targets are indexed under, targets)
    items = []
    for i, item in enumerate(fallbacks):
        source, targets = next(iter(item.items()))
        items.append((f"{path}[{i}].{source}", source, targets))
    if default is not None:
        items.append((default[0], GENERIC, default[1]))
    table: Table = {}
    for where, source, targets in items:
        if source in table and source != GENERIC:
            notes.dropped(where, f"an earlier entry for {source!r} wins")
            continue
        if source != GENERIC and source not in carried:
            notes.dropped(where, _missing(source, skipped))
            continue
        kept = []
        for j, target in enumerate(targets):
            if not isinstance(target, str):
                notes.dropped(f"{where}[{j}]", "a fallback with its own parameters: not carried")
            elif target not in carried:
                notes.dropped(f"{where}[{j}]", _missing(target, skipped))
            else:
                kept.append(target)
        table[source] = kept  # a later "*" replaces an earlier one, as LiteLLM reads them
    return table


def _missing(name: str, skipped: dict[str, str]) -> str:
    if name in skipped:
        return f"{name!r} is not carried over (see {skipped[name]})"
    return f"no model_name {name!r} in model_list"


def chains(table: Table, names: list[str], max_fallbacks: int) -> dict[str, list[str]]:
    """model_name -> the model_names to try, itself first, for each name with a fallback."""
    found = {}
    for name in names:
        chain = [name]
        _walk(table, name, 0, max_fallbacks, chain)
        if len(chain) > 1:
            found[name] = chain
    return found


def _walk(table: Table, failed: str, depth: int, max_fallbacks: int, tried: list[str]) -> None:
    if depth >= max_fallbacks:
        return
    targets = table.get(failed, table.get(GENERIC, []))
    for target in targets:
        if target in tried:
            continue
        tried.append(target)
        depth += 1  # LiteLLM counts each hop it takes at this level
        _walk(table, target, depth, max_fallbacks, tried)
