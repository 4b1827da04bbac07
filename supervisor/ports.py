"""Hands out ports from the configured range to servers, one holder per port.

Round-robin: the search starts after the last port handed out, so a port freed by a stopped
server is the last to be reused. A proxy that still holds the old address for a moment then
meets a refused connection (and asks again), never a different model on the same port.

A port is free when nothing of ours holds it and a bind on it succeeds now. Another program
may still take it between this check and the server's own bind; the server then exits with
"address in use", which the supervisor reports as a failed start with that log line.
"""

from __future__ import annotations

import socket

from supervisor.errors import NoFreePortError


class PortAllocator:
    def __init__(self, host: str, first: int, last: int) -> None:
        self._host = host
        self._range = range(first, last + 1)
        self._held: dict[int, str] = {}
        self._next = 0

    def acquire(self, holder: str) -> int:
        size = len(self._range)
        for step in range(size):
            index = (self._next + step) % size
            port = self._range[index]
            if port not in self._held and port_is_free(self._host, port):
                self._held[port] = holder
                self._next = (index + 1) % size
                return port
        raise NoFreePortError(
            f"no free port in {self._range.start}-{self._range.stop - 1} for {holder!r}"
        )

    def reserve(self, port: int, holder: str) -> None:
        """Mark a port an adopted server already listens on."""
        self._held[port] = holder

    def release(self, port: int | None) -> None:
        if port is not None:
            self._held.pop(port, None)


def port_is_free(host: str, port: int) -> bool:
    """Bindable as a server binds it: SO_REUSEADDR, so TIME_WAIT leftovers do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
