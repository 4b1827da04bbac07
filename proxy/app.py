"""Builds the proxy's ASGI app: every object is made here, in the lifespan, nothing at import
time. `admin` lets a caller (the component tests) supply the supervisor's client; by default
the app opens one to the supervisor the config names.

A config with remote servers needs LiteLLM (remote.extra_problems): without it the app is not
built (ConfigError). With it, LiteLLM's import starts with the app, in a worker thread, and
the app serves local servers meanwhile (proxy/remote.py)."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import cast

from starlette.applications import Starlette
from starlette.middleware import Middleware

from modelyard_config import Config, ConfigError
from proxy.access import AccessMiddleware, build_access
from proxy.backends import Admin, Backends
from proxy.balance import Balancer
from proxy.classify.classifier import Classifier
from proxy.classify.embedding import load_embedder
from proxy.classify.learned import load_head, load_models
from proxy.compose import Composer
from proxy.context import ProxyContext
from proxy.dialects import HANDLERS
from proxy.drain import Drain, DrainMiddleware
from proxy.fallback import Chain
from proxy.forward import upstream_session
from proxy.media_urls import MediaReader
from proxy.metrics import ProxyMetrics
from proxy.recent import RecentRequests
from proxy.remote import Remote, extra_problems
from proxy.request_log import RequestLog
from proxy.response_ids import ResponseIds
from proxy.routes import build_routes
from proxy.triage import LlmTriage
from proxy.ui.operator import Operator
from proxy.ui.routes import build_ui_routes
from proxy.ui.status import OperatorAdmin, StatusPage
from supervisor.client import AdminClient, admin_token


def create_app(config: Config, admin: Admin | None = None) -> Starlette:
    settings = config.proxy
    missing = extra_problems(config)
    if missing:
        raise ConfigError("config", missing)
    recent = RecentRequests(settings.ui.recent_requests if settings.ui.enabled else 0)
    metrics = ProxyMetrics()  # here, not in the lifespan: the request log counts into it

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            upstream = await stack.enter_async_context(
                upstream_session(settings.connect_timeout, settings.request_timeout)
            )
            token = admin_token(config.supervisor, os.environ)
            if admin is None:
                client = await stack.enter_async_context(
                    AdminClient(config.supervisor_url(), token=token)
                )
            backends = Backends(admin or client, remote=config.remote_servers())
            stack.push_async_callback(backends.aclose)  # before the client it asks closes
            balancer = Balancer(config, backends.ready_now, admin or client)
            stack.push_async_callback(balancer.aclose)
            remote = Remote(config, os.environ)
            remote.start()  # LiteLLM's import, in a thread, when a server is remote
            stack.push_async_callback(remote.aclose)
            chain = Chain(config, backends, upstream, metrics, balancer=balancer, remote=remote)
            classifier = build_classifier(config, chain)
            media = await stack.enter_async_context(
                MediaReader(settings.limits, settings.fetch_private_media)
            )
            access = build_access(config, os.environ, metrics.refusals)
            started = int(time.time())
            ui = None
            if settings.ui.enabled:
                operator = Operator(token, config.supervisor.admin_token_env)
                ui_admin = cast(OperatorAdmin, admin or client)  # AdminClient, or a test's
                ui = StatusPage(config, ui_admin, recent, operator, bool(access.keys), started)
                stack.push_async_callback(ui.readings.aclose)
            app.state.proxy = ProxyContext(
                config=config,
                classifier=classifier,
                composer=Composer(config, chain, classifier, media),
                metrics=metrics,
                access=access,
                started=started,
                response_ids=ResponseIds(settings.responses),
                ui=ui,
            )
            yield

    drain = Drain(settings.drain_grace)
    # the request log outermost, so that every answer has its id (the drain's 503s too); then
    # the drain, so that it covers every middleware after it
    middleware = [
        Middleware(RequestLog, recent=recent, metrics=metrics),
        Middleware(DrainMiddleware, drain=drain),
        Middleware(AccessMiddleware),
    ]
    routes = build_routes() + (build_ui_routes() if settings.ui.enabled else [])
    app = Starlette(
        routes=routes, exception_handlers=HANDLERS, middleware=middleware, lifespan=lifespan
    )
    app.state.drain = drain  # run by modelyard.stack before the server stops
    return app


def build_classifier(config: Config, chain: Chain | None = None) -> Classifier:
    """Loads the embedder now, at start, so no request waits for it. Without a chain (the
    eval, tests) there is no triage stage: it asks a server."""
    settings = config.classifier
    embedder = load_embedder(settings.embedder, settings.embedder_model)
    triage = None
    if settings.triage is not None and chain is not None:
        triage = LlmTriage(config, chain)
    intent_model, language_model = load_models(settings.learned)
    head = load_head(settings.learned, settings.embedder) if embedder is not None else None
    return Classifier(settings, embedder, triage, intent_model, language_model, head)
