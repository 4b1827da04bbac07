"""Port hand-out: round-robin over the range, skipping held and bound ports."""

from __future__ import annotations

import socket

import pytest

from harness.stack import free_port
from supervisor.errors import NoFreePortError
from supervisor.ports import PortAllocator


def free_block(size: int) -> int:
    for _ in range(50):
        first = free_port()
        ports = range(first, first + size)
        if all(PortAllocator("127.0.0.1", p, p).acquire("probe") == p for p in ports):
            return first
    pytest.skip("no block of free ports found on this machine")


def test_freed_port_is_reused_last() -> None:
    first = free_block(3)
    ports = PortAllocator("127.0.0.1", first, first + 2)
    a, b = ports.acquire("a"), ports.acquire("b")
    assert (a, b) == (first, first + 1)
    ports.release(a)
    assert ports.acquire("c") == first + 2
    assert ports.acquire("d") == first  # wrapped around to the freed one


def test_skips_a_port_someone_else_listens_on() -> None:
    first = free_block(2)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first))
        squatter.listen()
        assert PortAllocator("127.0.0.1", first, first + 1).acquire("a") == first + 1


def test_exhausted_range_is_an_error() -> None:
    first = free_block(1)
    ports = PortAllocator("127.0.0.1", first, first)
    ports.acquire("a")
    with pytest.raises(NoFreePortError, match="no free port"):
        ports.acquire("b")
