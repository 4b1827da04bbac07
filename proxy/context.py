"""What the request handlers share, built once per app in its lifespan (proxy/app.py) and
read by routes.py: one object, passed through the app's state, no module globals."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard_config import Config
from proxy.access import Access
from proxy.backends import Backends
from proxy.classify.classifier import Classifier
from proxy.compose import Composer
from proxy.metrics import ProxyMetrics
from proxy.response_ids import ResponseIds
from proxy.ui.status import StatusPage


@dataclass(frozen=True)
class ProxyContext:
    config: Config
    classifier: Classifier
    composer: Composer
    metrics: ProxyMetrics
    access: Access  # keys and their quotas: applied by proxy.access.AccessMiddleware
    started: int  # unix seconds: the `created` of every /v1/models entry
    response_ids: ResponseIds  # which server holds each Responses API response
    ui: StatusPage | None = None  # the status page's state and actions (proxy.ui.enabled)

    @property
    def backends(self) -> Backends:
        return self.composer.chain.backends
