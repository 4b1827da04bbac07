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
    SLEEPING = "sleeping"  # moving weights to host RAM (vLLM sleep mode, level 1)
    ASLEEP = "asleep"  # process alive, GPU memory released; wakes in well under a second
    WAKING = "waking"
    STOPPING = "stopping"
    FAILED = "failed"


TRANSITIONS: dict[State, frozenset[State]] = {
    # ensure() launches a process / adopt(): a survivor of a previous supervisor that answers
    # its health path, recorded serving or asleep (restart safety; not a start, not a load).
    State.STOPPED: frozenset({State.STARTING, State.READY, State.ASLEEP}),
    # health answered 200 / the process exited or missed its startup timeout / stop() during start.
    State.STARTING: frozenset({State.READY, State.FAILED, State.STOPPING}),
    # stop() or eviction / the process exited on its own / sleep() (warm tier, idle or evicted).
    State.READY: frozenset({State.STOPPING, State.FAILED, State.SLEEPING}),
    # vLLM confirmed sleep / the sleep call failed, so it stays serving / exit / stop().
    State.SLEEPING: frozenset({State.ASLEEP, State.READY, State.FAILED, State.STOPPING}),
    # ensure() or wake() / stop() or eviction from host RAM / the process exited.
    State.ASLEEP: frozenset({State.WAKING, State.STOPPING, State.FAILED}),
    # weights back on the GPU / exit or a failed wake / stop().
    State.WAKING: frozenset({State.READY, State.FAILED, State.STOPPING}),
    # the whole process group is gone.
    State.STOPPING: frozenset({State.STOPPED}),
    # ensure() tries again / stop() clears the failure.
    State.FAILED: frozenset({State.STARTING, State.STOPPED}),
}

# States in which a server holds (or is claiming) its memory budget on its devices; asleep
# holds none on a GPU, which is what sleeping is for.
HOLDS_MEMORY = frozenset({State.STARTING, State.READY, State.SLEEPING, State.WAKING})


class TransitionError(RuntimeError):
    """A bug, not an operational failure: code asked for a move the table forbids."""


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS[current]:
        raise TransitionError(f"illegal transition {current} -> {target}")
