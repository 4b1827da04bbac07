"""Builds the proxy's ASGI app: every object is made here, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import ClientSession
from starlette.applications import Starlette

from modelyard_config import Config
from openai_wire.errors import HANDLERS
from proxy.backends import Backends
from proxy.classify.classifier import Classifier
from proxy.classify.embedding import load_embedder
from proxy.classify.triage import LlmTriage
from proxy.compose import Composer
from proxy.fallback import Chain
from proxy.forward import upstream_session
from proxy.metrics import ProxyMetrics
from proxy.routes import build_routes
from supervisor.client import AdminClient


def create_app(config: Config) -> Starlette:
    settings = config.proxy

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with (
            upstream_session(settings.connect_timeout, settings.request_timeout) as upstream,
            AdminClient(config.supervisor_url()) as admin,
        ):
            app.state.upstream = upstream
            app.state.backends = backends = Backends(admin)
            app.state.classifier = build_classifier(config, backends, upstream)
            app.state.metrics = metrics = ProxyMetrics()
            app.state.chain = chain = Chain(config, backends, upstream, metrics)
            app.state.composer = Composer(config, chain, app.state.classifier)
            yield

    return Starlette(
        routes=build_routes(config),
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )


def build_classifier(
    config: Config, backends: Backends | None = None, upstream: ClientSession | None = None
) -> Classifier:
    """Loads the embedder now, at start, so no request waits for it."""
    settings = config.classifier
    embedder = load_embedder(settings.embedder, settings.embedder_model)
    triage = None
    if settings.triage is not None and backends is not None and upstream is not None:
        triage = LlmTriage(config, backends, upstream)
    return Classifier(settings, embedder, triage)
