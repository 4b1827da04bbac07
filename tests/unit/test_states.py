"""The lifecycle table: the moves a server may make, and the ones that are bugs."""

from __future__ import annotations

import pytest

from supervisor.states import State, TransitionError, check_transition

ALLOWED = [
    (State.STOPPED, State.STARTING),
    (State.STOPPED, State.READY),  # adoption
    (State.STOPPED, State.ASLEEP),  # adoption
    (State.STARTING, State.READY),
    (State.STARTING, State.FAILED),
    (State.STARTING, State.STOPPING),
    (State.READY, State.STOPPING),
    (State.READY, State.FAILED),
    (State.READY, State.SLEEPING),
    (State.SLEEPING, State.ASLEEP),
    (State.SLEEPING, State.READY),
    (State.SLEEPING, State.FAILED),
    (State.SLEEPING, State.STOPPING),
    (State.ASLEEP, State.WAKING),
    (State.ASLEEP, State.STOPPING),
    (State.ASLEEP, State.FAILED),
    (State.WAKING, State.READY),
    (State.WAKING, State.FAILED),
    (State.WAKING, State.STOPPING),
    (State.STOPPING, State.STOPPED),
    (State.FAILED, State.STARTING),
    (State.FAILED, State.STOPPED),
]


@pytest.mark.parametrize(("a", "b"), ALLOWED)
def test_allowed(a: State, b: State) -> None:
    check_transition(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [(a, b) for a in State for b in State if (a, b) not in ALLOWED],
)
def test_forbidden(a: State, b: State) -> None:
    with pytest.raises(TransitionError):
        check_transition(a, b)
