"""Remote servers (`servers.<name>.remote`): hosted models, or any OpenAI-compatible server the
supervisor does not run, called through LiteLLM's SDK as chain members like any other server.

LiteLLM is the optional extra `modelyard[litellm]`, and heavy: its import takes ~7 s on this
box. It is imported only when the config has a remote server (never otherwise: the proxy's
start and hot path for local servers do not change), and then in a worker thread started with
the app, so the proxy listens and serves local servers at once; a remote call awaits the
import (counted in `x-modelyard-waited`, as a local server's start is). Before the import,
`LITELLM_LOCAL_MODEL_COST_MAP` keeps it off the network (it would fetch a cost map from
GitHub); after it, its debug chatter is off and it never retries: modelyard's retry policy and
breaker decide. An import that fails is the server's `start` failure.

One call is one attempt (fallback.Chain): its arguments (remote_calls.py), its answer
(remote_answers.py), its failure (remote_errors.py). A stream is returned only once its first
event is in, within the retry policy's first_byte_timeout, so a failure before the first byte
falls back as a local server's does (forward.py); a failure after it ends the stream with the
API's error event, and a client that goes away closes LiteLLM's stream.

Keys: `api_key_env` is read when the proxy starts; an unset variable is a warning naming it,
and the call then goes without a key (LiteLLM's own lookup: OPENAI_API_KEY and the like), so
the provider's 401 (or the SDK's refusal, `config`) says the rest. A key is never logged,
never in an error message (remote_errors.scrub), never in a header.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from modelyard_config import Config
from modelyard_config.endpoints import REMOTE_CALLS
from modelyard_config.servers import RemoteSpec
from openai_wire.errors import UNAVAILABLE
from proxy.bodies import Body, JsonBody
from proxy.dialects import of_path
from proxy.errors import UnavailableError
from proxy.remote_answers import ending, frame, plain
from proxy.remote_calls import arguments
from proxy.remote_errors import Failed, Refused, outcome_of, scrub

log = logging.getLogger("modelyard.proxy")

INSTALL = "needs LiteLLM: pip install 'modelyard[litellm]'"
# LiteLLM 1.106.12 imports its MCP gateway on every Responses API call, before it looks at the
# tools (litellm/responses/main.py), and that needs the `mcp` package, which only its `mcp`
# extra brings.
RESPONSES_NEED_MCP = (
    "the Responses API through LiteLLM 1.106.12 needs its mcp extra: "
    "pip install 'litellm[mcp]==1.106.12'"
)


class RemoteFailedError(UnavailableError):
    """One call to a remote server failed before anything reached the client."""

    fault = UNAVAILABLE.with_code("remote_failed")

    def __init__(self, failed: Failed) -> None:
        super().__init__(failed.detail)
        self.reason = failed.reason
        self.retry_after = failed.retry_after


def extra_problems(
    config: Config, find_spec: Callable[[str], object] | None = None
) -> list[tuple[str, str]]:
    """What a config with remote servers needs that this Python lacks: LiteLLM itself, and
    for a server that declares `responses`, LiteLLM's `mcp` extra. `modelyard check` prints
    these, and the proxy refuses to start with them. Nothing is imported to tell."""
    remote = config.remote_servers()
    if not remote:
        return []
    find_spec = find_spec or importlib.util.find_spec
    if find_spec("litellm") is None:
        return [(f"servers.{name}.remote", INSTALL) for name in remote]
    return [
        (f"servers.{name}.capabilities[{i}]", RESPONSES_NEED_MCP)
        for name in remote
        for i, capability in enumerate(config.servers[name].capabilities)
        if capability == "responses" and find_spec("mcp") is None
    ]


def load_litellm() -> Any:
    """LiteLLM, imported and set for modelyard: run in a worker thread (`Remote.start`)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    litellm: Any = importlib.import_module("litellm")
    litellm.telemetry = False  # gone from 1.106.12; kept off for a version that has it back
    litellm.suppress_debug_info = True
    # two INFO lines per call in the proxy's log otherwise; its warnings and errors stay
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    litellm.num_retries = 0
    # 1.106.12's OpenAI embeddings take `max_retries or DEFAULT_MAX_RETRIES`, so a call's 0
    # became 2 retries (3 requests for one 429, seen on the wire): no default to fall back on
    litellm.DEFAULT_MAX_RETRIES = 0
    # Anthropic's Messages to an OpenAI model go through chat completions, which every
    # OpenAI-compatible server has, rather than LiteLLM's bridge to the Responses API (which
    # few have, and which needs the `mcp` extra)
    litellm.use_chat_completions_url_for_anthropic_messages = True
    return litellm


class Remote:
    """The proxy's calls to its remote servers: one per app, held by the chain."""

    def __init__(
        self,
        config: Config,
        environ: Mapping[str, str] | None = None,
        load: Callable[[], Any] = load_litellm,
    ) -> None:
        self._specs: dict[str, RemoteSpec] = {}
        self._max_tokens: dict[str, int | None] = {}
        self._responses: set[str] = set()  # the servers that declare the Responses API
        for name in config.remote_servers():
            spec = config.servers[name]
            assert spec.remote is not None
            self._specs[name] = spec.remote
            self._max_tokens[name] = spec.max_tokens
            if "responses" in spec.capabilities:
                self._responses.add(name)
        self._keys = _keys(self._specs, os.environ if environ is None else environ)
        self._timeout = config.proxy.request_timeout
        self._load = load
        self._loading: asyncio.Task[Any] | None = None
        self._reserved: frozenset[str] | None = None
        self._unknown: dict[str, str] = {}  # servers whose provider LiteLLM does not know: why

    def serves(self, server: str) -> bool:
        """Whether `server` is remote (called here, never asked of the supervisor)."""
        return server in self._specs

    def cannot(self, path: str) -> str | None:
        """Why a remote server cannot be sent `path`, or None when it can."""
        if path in REMOTE_CALLS:
            return None
        return f"a remote server has no LiteLLM call for {path.split('?')[0]}"

    def start(self) -> None:
        """Begin LiteLLM's import in a worker thread, if any server is remote (app startup)."""
        if self._specs and self._loading is None:
            self._loading = asyncio.create_task(asyncio.to_thread(self._load))

    async def loaded(self) -> Any:
        """LiteLLM, once imported (the import starts here if `start` was not called); a
        RemoteFailedError (`start`) when it cannot be."""
        self.start()
        assert self._loading is not None
        try:
            # shielded: a request that goes away leaves the import to the others
            litellm = await asyncio.shield(self._loading)
        except Exception as exc:  # a foreign import may fail any way
            failed = Failed("start", f"LiteLLM could not be imported: {type(exc).__name__}: {exc}")
            raise RemoteFailedError(failed) from exc
        if self._reserved is None:
            self._reserved = _reserved(litellm)
            self._unknown = _unknown_providers(litellm, self._specs)
            streams = {n: s for n, s in self._specs.items() if n in self._responses}
            _stream_unmapped(litellm, streams, self._unknown)
        return litellm

    async def send(
        self,
        litellm: Any,
        server: str,
        path: str,
        body: Body,
        headers: Mapping[str, str],
        first_byte_timeout: float | None,
    ) -> Response:
        """`server`'s answer: a success, or the client's own error (a 4xx, passed on); a
        RemoteFailedError when the server failed before anything reached the client."""
        if server in self._unknown:
            raise RemoteFailedError(Failed("config", self._unknown[server]))
        spec, key = self._specs[server], self._keys.get(server)
        fields = arguments(
            path,
            body,
            spec,
            api_key=key,
            max_tokens=self._max_tokens[server],
            timeout=self._timeout,
            request_id=headers.get("x-request-id"),
            reserved=self._reserved or _reserved(litellm),
        )
        call = getattr(litellm, REMOTE_CALLS[path])
        streaming = isinstance(body, JsonBody) and body.payload.get("stream") is True
        deadline = asyncio.timeout(first_byte_timeout)
        try:
            async with deadline:
                result = await call(**fields)
                if not streaming:
                    return plain(path, result, fields)
                stream = result.__aiter__()
                first = await _first(stream, server)
        except RemoteFailedError:
            raise
        except TimeoutError as exc:
            if not deadline.expired():
                raise RemoteFailedError(Failed("timeout", scrub(str(exc), key))) from exc
            message = f"remote server {server!r} sent nothing in {first_byte_timeout:g} s"
            raise RemoteFailedError(Failed("timeout", message)) from exc
        except Exception as exc:  # LiteLLM raises anything: translated once, here
            outcome = outcome_of(exc, key)
            if isinstance(outcome, Refused):
                return JSONResponse(outcome.body, outcome.status)
            raise RemoteFailedError(outcome) from exc
        relay = _relay(stream, first, path, key)
        return StreamingResponse(relay, media_type="text/event-stream")

    async def aclose(self) -> None:
        """Close LiteLLM's clients (the app is stopping); an import still running is left to
        end in its thread."""
        if self._loading is None:
            return
        if not self._loading.done():
            self._loading.cancel()
            return
        if self._loading.cancelled() or self._loading.exception() is not None:
            return
        litellm = self._loading.result()
        await litellm.close_litellm_async_clients()
        # closed, but still cached: a later app in this process (tests, a restart in place)
        # would be handed them, and fail with "Connection error"
        litellm.in_memory_llm_clients_cache.flush_cache()


def _keys(specs: Mapping[str, RemoteSpec], environ: Mapping[str, str]) -> dict[str, str]:
    keys = {}
    for name, spec in specs.items():
        if spec.api_key_env is None:
            continue
        value = environ.get(spec.api_key_env)
        if value:
            keys[name] = value
        else:
            log.warning(
                "servers.%s.remote.api_key_env: $%s is not set; %s is called without a key",
                name,
                spec.api_key_env,
                name,
            )
    return keys


def _unknown_providers(litellm: Any, specs: Mapping[str, RemoteSpec]) -> dict[str, str]:
    """The servers whose `remote.model` names no provider LiteLLM knows, and why: asked once,
    when LiteLLM is loaded (its own error for it, at call time, is a 400 like a client's)."""
    unknown = {}
    for name, spec in specs.items():
        try:
            litellm.get_llm_provider(
                model=spec.model,
                custom_llm_provider=spec.params.get("custom_llm_provider"),
                api_base=spec.api_base,
            )
        except Exception as exc:  # LiteLLM's own BadRequestError, or anything else it raises
            why = f"servers.{name}.remote.model {spec.model!r}: {type(exc).__name__}: {exc}"
            log.error("%s", why)
            unknown[name] = why
    return unknown


def _stream_unmapped(
    litellm: Any, specs: Mapping[str, RemoteSpec], unknown: Mapping[str, str]
) -> None:
    """LiteLLM 1.106.12 fakes a Responses API stream for a model its cost map lacks (every
    model a self-hosted server serves, every model newer than the map): one call without
    `stream`, the whole answer cut into events at its end (should_fake_stream), so the first
    event waits for the last token, and the first-byte deadline times the whole generation.
    Such a model is registered as streaming natively; one the map knows keeps what the map
    says (o1-pro does not stream). Registered with nothing else: a `litellm_provider` would
    add it to LiteLLM's lists of OpenAI models, which steer other calls."""
    for name, spec in specs.items():
        if name in unknown:
            continue
        model, provider, _, _ = litellm.get_llm_provider(
            model=spec.model,
            custom_llm_provider=spec.params.get("custom_llm_provider"),
            api_base=spec.api_base,
        )
        try:
            litellm.get_model_info(model=model, custom_llm_provider=provider)
        except Exception:  # LiteLLM's "This model isn't mapped yet"
            litellm.register_model({f"{provider}/{model}": {"supports_native_streaming": True}})


def _reserved(litellm: Any) -> frozenset[str]:
    """The names LiteLLM reads as its own settings (never taken from a client's body)."""
    return frozenset(litellm.types.utils.all_litellm_params)


async def _first(stream: AsyncIterator[Any], server: str) -> Any:
    try:
        return await anext(stream)
    except StopAsyncIteration:
        await _close(stream)
        message = f"remote server {server!r} closed the stream before any data"
        raise RemoteFailedError(Failed("connect", message)) from None
    except BaseException:
        await _close(stream)
        raise


async def _relay(
    stream: AsyncIterator[Any], first: Any, path: str, key: str | None
) -> AsyncIterator[bytes]:
    try:
        yield frame(path, first)
        async for item in stream:
            yield frame(path, item)
        if end := ending(path):
            yield end
    except Exception as exc:  # whatever broke LiteLLM's stream: its end event
        message = scrub(f"remote stream broke: {type(exc).__name__}: {exc}", key)
        yield of_path(path).stream_error(message, "upstream_stream_error")
    finally:
        # a client that went away, or a finished stream: LiteLLM's connection is closed
        await _close(stream)


async def _close(stream: Any) -> None:
    """Close a LiteLLM stream, whichever of its wrappers this is: CustomStreamWrapper and
    Anthropic's byte stream have `aclose`; the completions wrapper holds the SDK's stream; the
    Responses API's iterator holds the httpx response."""
    for target, method in (
        (stream, "aclose"),
        (getattr(stream, "completion_stream", None), "aclose"),
        (getattr(stream, "completion_stream", None), "close"),
        (getattr(stream, "response", None), "aclose"),
    ):
        closing = getattr(target, method, None) if target is not None else None
        if callable(closing):
            result = closing()
            if asyncio.iscoroutine(result):
                await result
            return
