"""When a sleeping server goes deeper: level 1 -> level 2 -> stopped, as it stays idle and as
host RAM runs short. Pure functions of plain data (the sleepers, their idle times, the
settings), like capacity.py: the monitor measures, this decides, the servers act.

Why levels (vLLM's docs/features/sleep_mode.md; figures DESIGN.md collects): level 1 keeps
the weights in pinned host RAM, so a wake is a copy (~0.3 s for 15 GB on an H200) but the
sleeper holds as much host RAM as its weights. Level 2 drops them: a wake reloads the
checkpoint (seconds: the page cache helps), yet still skips what a cold start costs (a new
process, CUDA graphs, compilation). Stopped holds nothing and costs a full start.

A level-1 sleeper reaches level 2 only through a wake (vLLM ignores a second sleep while
asleep: vllm_api.py), which needs its GPU memory back for a moment. So each level-1 sleeper
comes with `room`: whether its devices could take it now without evicting anyone. Without
room, a sleeper due for level 2 by idle time waits for room (it keeps its host RAM a while
longer); one that must give host RAM back (the budget) is stopped instead.

The rules, each decision with its reason:
- level 2, idle >= stop_after: stopped;
- level 1, idle >= level2_after: level 2 (or waits for room); past stop_after as well (or
  with level2_after None), stopped: a level-2 stay would end at once;
- then, while the level-1 sleepers that remain hold more host RAM than host_budget, the
  least recently used goes to level 2 (stopped without room).
Pinned sleepers are never moved (their host RAM still counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

# level2 and stop are demotions (modelyard_demotions_total's `to`); wait: due for level 2 but
# there is no GPU room to wake it for the move, so it stays at level 1 this round.
Target = Literal["level2", "stop", "wait"]

GiB = 2**30


@dataclass(frozen=True)
class Sleeper:
    name: str
    level: int  # 1 or 2
    idle_s: float  # since its last use
    host_bytes: int  # host RAM its weights take at level 1 (ignored at level 2)
    room: bool  # its devices could take it back now without evicting anyone
    pinned: bool = False


@dataclass(frozen=True)
class Limits:
    level2_after: float | None  # seconds idle; None: never level 2
    stop_after: float | None  # seconds idle; None: never stopped for idleness
    host_budget: int | None  # bytes the level-1 sleepers may hold together; None: no limit


@dataclass(frozen=True)
class Demotion:
    name: str
    to: Target
    reason: str


def demotions(sleepers: Sequence[Sleeper], limits: Limits) -> list[Demotion]:
    """What to do with each sleeper that must move, idle rules first (by name), then the host
    budget (least recently used first). A sleeper appears at most once."""
    decided = [d for s in sorted(sleepers, key=lambda s: s.name) if (d := _by_idle(s, limits))]
    moved = {d.name for d in decided if d.to != "wait"}
    budget = _by_budget(sleepers, moved, limits.host_budget)
    overruled = {d.name for d in budget}  # waiting for room, but the budget cannot wait
    return [d for d in decided if d.name not in overruled] + budget


def _by_idle(s: Sleeper, limits: Limits) -> Demotion | None:
    if s.pinned:
        return None
    idle = f"idle {s.idle_s:.0f} s at level {s.level}"
    stop_due = limits.stop_after is not None and s.idle_s >= limits.stop_after
    if s.level >= 2:
        if not stop_due:
            return None
        return Demotion(s.name, "stop", f"{idle}, past stop_after {limits.stop_after:g} s")
    level2_due = limits.level2_after is not None and s.idle_s >= limits.level2_after
    if stop_due and (level2_due or limits.level2_after is None):
        past = "" if limits.level2_after is None else f"level2_after {limits.level2_after:g} s and "
        return Demotion(s.name, "stop", f"{idle}, past {past}stop_after {limits.stop_after:g} s")
    if not level2_due:
        return None
    reason = f"{idle}, past level2_after {limits.level2_after:g} s"
    if s.room:
        return Demotion(s.name, "level2", reason)
    return Demotion(s.name, "wait", f"{reason}; no GPU room to wake it for the move yet")


def _by_budget(sleepers: Sequence[Sleeper], moved: set[str], budget: int | None) -> list[Demotion]:
    if budget is None:
        return []
    holding = [s for s in sleepers if s.level == 1 and s.name not in moved]
    held = sum(s.host_bytes for s in holding)
    result = []
    for s in sorted(holding, key=lambda s: (-s.idle_s, s.name)):  # least recently used first
        if held <= budget:
            break
        if s.pinned:
            continue
        reason = (
            f"level-1 sleepers hold {_gib(held)} of host RAM, past the budget of "
            f"{_gib(budget)}; least recently used (idle {s.idle_s:.0f} s)"
        )
        if s.room:
            result.append(Demotion(s.name, "level2", reason))
        else:
            result.append(Demotion(s.name, "stop", f"{reason}, no GPU room to wake it for level 2"))
        held -= s.host_bytes
    return result


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def first_level(idle_s: float, limits: Limits) -> int:
    """The level an idle server is put to sleep at: 2 when it is already idle past
    level2_after (a level-1 stay would end at once, and through a wake), else 1."""
    return 2 if limits.level2_after is not None and idle_s >= limits.level2_after else 1
