"""Who waits for which server: the requests the scheduler weighs (scheduling.Waiting).

Each call of `Fleet.ensure` that cannot be answered at once holds a ticket here until it is
answered or gives up, with its arrival and its deadline (a caller's max wait). A server's start
is single-flight (one admit however many wait), so the admit cannot count them; this can.
Pure bookkeeping on plain data: no clock of its own, no I/O.
"""

from __future__ import annotations

import itertools

from supervisor.scheduling import Request


class WaitingRoom:
    def __init__(self) -> None:
        self._tickets = itertools.count()
        self._by_server: dict[str, dict[int, Request]] = {}

    def enter(self, server: str, arrival: float, deadline: float | None) -> int:
        ticket = next(self._tickets)
        self._by_server.setdefault(server, {})[ticket] = Request(arrival, deadline)
        return ticket

    def leave(self, server: str, ticket: int) -> None:
        waiting = self._by_server.get(server)
        if waiting is not None:
            waiting.pop(ticket, None)
            if not waiting:
                del self._by_server[server]

    def requests(self, server: str) -> tuple[Request, ...]:
        """Oldest first."""
        return tuple(sorted(self._by_server.get(server, {}).values(), key=lambda r: r.arrival))

    def count(self, server: str) -> int:
        return len(self._by_server.get(server, {}))

    def servers(self) -> list[str]:
        return sorted(self._by_server)
