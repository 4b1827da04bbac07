"""Embeddings, rerank and score: pooling models' requests, as vLLM serves them.

- `/v1/embeddings` (OpenAI): `input` is a string, an array of strings, or token ids (an array
  of integers, or of such arrays); `encoding_format` float or base64; `dimensions` where the
  model allows it (the server says when it does not).
- `/v1/rerank` and `/v2/rerank` (Jina's and Cohere's shape): `query` and `documents`.
- `/v1/score`: `text_1` and `text_2`, or vLLM's other spellings of the pair: `queries` with
  `documents` or with `items`.

The proxy reads the text only to detect the language (x-modelyard-language goes along, as for
chat) and to size the request against a server's context; the body goes on untouched.
"""

from __future__ import annotations

from typing import Any

from modelyard_config.endpoints import EMBEDDINGS, SCORE
from modelyard_config.limits import Limits
from proxy.errors import BadRequestError

ENCODINGS = frozenset({"float", "base64"})
# The two sides of a score request, as vLLM spells them.
SCORE_PAIRS = (("text_1", "text_2"), ("queries", "documents"), ("queries", "items"))


def check(endpoint: str, payload: dict[str, Any], limits: Limits) -> None:
    if endpoint == EMBEDDINGS:
        check_embeddings(payload, limits)
    elif endpoint == SCORE:
        check_score(payload, limits)
    else:
        check_rerank(payload, limits)


def check_embeddings(payload: dict[str, Any], limits: Limits) -> None:
    items = _batch(payload.get("input"), "input", limits, allow_tokens=True)
    if not items:
        raise BadRequestError("'input' must not be empty.", param="input")
    fmt = payload.get("encoding_format")
    if fmt is not None and (not isinstance(fmt, str) or fmt not in ENCODINGS):
        raise BadRequestError(
            f"'encoding_format' must be 'float' or 'base64'; got {fmt!r}.", param="encoding_format"
        )
    dims = payload.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims < 1):
        raise BadRequestError(
            f"'dimensions' must be a positive integer; got {dims!r}.", param="dimensions"
        )


def check_rerank(payload: dict[str, Any], limits: Limits) -> None:
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequestError("'query' must be a non-empty string.", param="query")
    documents = _batch(payload.get("documents"), "documents", limits, documents=True)
    if not documents:
        raise BadRequestError("'documents' must be a non-empty array.", param="documents")
    top_n = payload.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 0):
        raise BadRequestError(f"'top_n' must be a non-negative integer; got {top_n!r}.", "top_n")


def check_score(payload: dict[str, Any], limits: Limits) -> None:
    for field in _score_pair(payload):
        if field not in payload:
            raise BadRequestError(f"'{field}' is required.", param=field)
        items = _batch(payload[field], field, limits)
        if not items:
            raise BadRequestError(f"'{field}' must not be empty.", param=field)


def texts(endpoint: str, payload: dict[str, Any]) -> list[str]:
    """The texts a pooling request carries, query first: for the language and the size."""
    if endpoint == EMBEDDINGS:
        return _strings(payload.get("input"))
    if endpoint == SCORE:
        first, second = _score_pair(payload)
        return _strings(payload.get(first)) + _strings(payload.get(second))
    query = payload.get("query")
    return ([query] if isinstance(query, str) else []) + _strings(payload.get("documents"))


def _score_pair(payload: dict[str, Any]) -> tuple[str, str]:
    """The spelling a score request uses: the first pair it holds both sides of, else the
    first it holds one side of (so that the 400 names the side that is missing)."""
    whole = [pair for pair in SCORE_PAIRS if pair[0] in payload and pair[1] in payload]
    begun = [pair for pair in SCORE_PAIRS if pair[0] in payload]
    return (whole or begun or [SCORE_PAIRS[0]])[0]


def _batch(
    value: object,
    field: str,
    limits: Limits,
    allow_tokens: bool = False,
    documents: bool = False,
) -> list[Any]:
    """The items of a string-or-array field, checked; token ids only where `allow_tokens`,
    `{"text": ...}` objects (Cohere's documents) only where `documents`."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise BadRequestError(f"'{field}' must be a string or an array.", param=field)
    if allow_tokens and value and all(_is_int(v) for v in value):
        return [value]  # one input as token ids: as long as a text, not a batch
    if len(value) > limits.batch_inputs:
        raise BadRequestError(
            f"'{field}' holds {len(value)} items; the limit is {limits.batch_inputs} "
            "(proxy.limits.batch_inputs).",
            param=field,
        )
    for i, item in enumerate(value):
        if isinstance(item, str):
            continue
        if allow_tokens and isinstance(item, list) and all(_is_int(v) for v in item):
            continue
        if documents and isinstance(item, dict) and isinstance(item.get("text"), str):
            continue
        kinds = "a string" + (" or an array of token ids" if allow_tokens else "")
        kinds += " or an object with a string 'text'" if documents else ""
        raise BadRequestError(f"'{field}[{i}]' must be {kinds}.", param=f"{field}[{i}]")
    return value


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return []
    found = []
    for item in value:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            found.append(item["text"])
    return found


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
