"""The last requests the proxy answered, for the status page: a bounded ring, fed by the request
log middleware (proxy/request_log.py) as each request ends.

What is kept is what the response's own headers already told the client (model, route, intent,
language, tried, degraded) plus the status, time and path: never a body, a query string or a
key. Each value is cut to a length, so a long chain or an odd path cannot grow an entry; the
ring's length bounds the whole (`proxy.ui.recent_requests`; 0 keeps nothing).

An entry is a tuple appended to a deque: the cost on the request's path is one append (the
oldest entry falls out by itself). The dicts the page reads are built only when it asks.
Each proxy worker keeps its own ring (proxy.workers: nothing is shared between them).
"""

from __future__ import annotations

from collections import deque
from typing import Any, NamedTuple

# Which requests are worth a row: the APIs clients call, not the page's own polls or probes,
# and not /route, which decides without sending anything anywhere.
_API_PREFIXES = ("/v1/", "/v2/")
_LONGEST = 512  # characters kept of any one value


class Entry(NamedTuple):
    at: float  # wall clock, seconds since the epoch, when the request arrived
    request_id: str
    method: str
    path: str
    status: int  # 0: the client went away before an answer was sent
    ms: float
    model: str | None
    route: str | None
    intent: str | None
    language: str | None
    tried: str | None  # "server:outcome,server:outcome" as x-modelyard-tried says it
    degraded: str | None


def worth_keeping(path: str) -> bool:
    return path.startswith(_API_PREFIXES)


def cut(value: str | None) -> str | None:
    return value if value is None or len(value) <= _LONGEST else value[:_LONGEST] + "…"


class RecentRequests:
    def __init__(self, size: int) -> None:
        self.size = size
        self._ring: deque[Entry] = deque(maxlen=size)

    def add(self, entry: Entry) -> None:
        if self.size:
            self._ring.append(entry)

    def __len__(self) -> int:
        return len(self._ring)

    def newest_first(self) -> list[dict[str, Any]]:
        return [view(entry) for entry in reversed(self._ring)]


def view(entry: Entry) -> dict[str, Any]:
    tried = entry.tried.split(",") if entry.tried else []
    servers = {step.rpartition(":")[0] or step for step in tried}
    return {
        "at": round(entry.at, 3),
        "id": entry.request_id,
        "method": entry.method,
        "path": entry.path,
        "status": entry.status,
        "ms": round(entry.ms, 1),
        "model": entry.model,
        "route": entry.route,
        "intent": entry.intent,
        "language": entry.language,
        "tried": tried,
        "degraded": entry.degraded,
        # more than one server tried: the chain moved past its first choice
        "fallback": len(servers) > 1,
    }
