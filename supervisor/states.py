"""Lifecycle states of one managed server and the transitions allowed between them.

Imports nothing from the project: every other module may depend on it. `ready` means the
health path answered 200, not merely that a process is alive.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    FAILED = "failed"


TRANSITIONS: dict[State, frozenset[State]] = {
    # ensure() launches a process.
    State.STOPPED: frozenset({State.STARTING}),
    # health answered 200 / the process exited or missed its startup timeout / stop() during start.
    State.STARTING: frozenset({State.READY, State.FAILED, State.STOPPING}),
    # stop() or eviction / the process exited on its own.
    State.READY: frozenset({State.STOPPING, State.FAILED}),
    # the whole process group is gone.
    State.STOPPING: frozenset({State.STOPPED}),
    # ensure() tries again / stop() clears the failure.
    State.FAILED: frozenset({State.STARTING, State.STOPPED}),
}


class TransitionError(RuntimeError):
    """A bug, not an operational failure: code asked for a move the table forbids."""


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(f"illegal transition {current} -> {target}")
