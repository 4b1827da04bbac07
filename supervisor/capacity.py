"""Placement and eviction policy: which devices a server goes on, and what must make room.

Pure functions of plain data (a device table, the residents, a clock value passed in), so the
whole policy is tested without processes or GPUs. The caller performs the evictions in the
order given, re-measures, and plans again: a plan is advice for one moment, not a reservation.

Value order, least valuable first (evicted first): cold before warm, then least recently used,
then name. Hot, pinned, busy and in-flight servers are never victims.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

from modelyard_config.servers import Tier

Action = Literal["sleep", "stop"]

HOST = "host"
_TIER_RANK: dict[Tier, int] = {"cold": 0, "warm": 1, "hot": 2}


@dataclass(frozen=True)
class Device:
    key: str  # "gpu0", "gpu1", ... or "host"
    total: int  # bytes
    used: int  # bytes in use right now as measured (NVML / psutil), by anyone
    ceiling: int  # bytes we may plan up to on this device


@dataclass(frozen=True)
class Resident:
    """A server the supervisor manages that currently holds (or is about to hold) memory."""

    name: str
    devices: tuple[str, ...]  # several with tensor parallel
    budget: int  # bytes planned on EACH of its devices
    tier: Tier
    pinned: bool
    in_flight: int  # requests running or waiting on it (0 = idle)
    last_used: float  # smaller = longer ago
    awake: bool  # False: asleep (weights in host RAM), holds nothing on a GPU
    busy: bool = False  # starting, stopping, sleeping or waking: never a victim


@dataclass(frozen=True)
class Want:
    name: str
    budget: int  # bytes per device
    devices_needed: int  # tensor_parallel_size, >= 1
    tier: Tier


@dataclass(frozen=True)
class Eviction:
    name: str
    action: Action


@dataclass(frozen=True)
class Placement:
    devices: tuple[str, ...]
    evictions: tuple[Eviction, ...]  # in the order to perform them; empty when it fits as is


@dataclass(frozen=True)
class NoFit:
    reason: str
    never: bool  # True: no amount of waiting helps; False: may fit once something goes idle


def planned(device_key: str, residents: Sequence[Resident]) -> int:
    """Bytes promised on a device: asleep residents hold nothing on it."""
    return sum(r.budget for r in residents if r.awake and device_key in r.devices)


def headroom(device: Device, residents: Sequence[Resident]) -> int:
    """Bytes we may still plan on `device`; negative when it is already over the ceiling.

    Two numbers each miss something: `planned` includes budgets promised to servers that have not
    allocated yet, while the live `used` includes foreign processes and CUDA contexts that no
    budget declares (and already includes our awake servers' real usage). Taking the larger of
    the two is the conservative union, so we never plan into memory that either says is taken.
    """
    return device.ceiling - max(planned(device.key, residents), device.used)


def never_fits(devices: Sequence[Device], budget: int, devices_needed: int) -> str | None:
    """Why a server of this size can never be placed on this table, or None if it can.

    Counts devices whose ceiling could hold the budget with nothing else on them, so a
    tensor-parallel server that fits one GPU but needs two is caught at config load too.
    """
    if devices_needed < 1:
        return f"devices_needed must be at least 1, got {devices_needed}"
    if devices_needed > len(devices):
        return f"needs {devices_needed} devices, only {len(devices)} exist"
    big = [d for d in devices if d.ceiling >= budget]
    if len(big) < devices_needed:
        ceilings = ", ".join(f"{d.key} {_gib(d.ceiling)}" for d in devices)
        return (
            f"needs {_gib(budget)} on each of {devices_needed} device(s), "
            f"but only {len(big)} device(s) have a ceiling that large ({ceilings})"
        )
    return None


def plan(devices: Sequence[Device], residents: Sequence[Resident], want: Want) -> Placement | NoFit:
    """Where to put `want`, and what to evict first; or why it cannot go anywhere now.

    Without eviction, best fit wins: the fitting devices with the least headroom, so big holes
    stay free for big models. With eviction, the device set that needs the fewest evictions
    wins, then the one whose victims are least valuable, then the devices listed first.
    A server that is asleep can only wake on the devices it sleeps on, so those are the only
    candidates for it.
    """
    mine = next((r for r in residents if r.name == want.name), None)
    if mine is not None and mine.awake:
        return Placement(mine.devices, ())
    table = list(devices)
    prefix = ""
    if mine is not None:
        table = [d for d in devices if d.key in mine.devices]
        prefix = f"{want.name} sleeps on {', '.join(mine.devices)} and can only wake there: "
    reason = never_fits(table, want.budget, want.devices_needed)
    if reason is not None:
        return NoFit(prefix + reason, never=True)
    room = {d.key: headroom(d, residents) for d in table}
    fitting = sorted(
        (i for i, d in enumerate(table) if room[d.key] >= want.budget),
        key=lambda i: (room[table[i].key], i),
    )
    if len(fitting) >= want.devices_needed:
        chosen = sorted(fitting[: want.devices_needed])
        return Placement(tuple(table[i].key for i in chosen), ())
    return _cheapest_eviction(table, room, residents, want) or NoFit(
        prefix + _blocked(table, residents, want), never=False
    )


def expired(
    residents: Sequence[Resident], now: float, ttl: Mapping[str, float | None]
) -> list[Eviction]:
    """Idle servers whose time-to-live has run out, sorted by name.

    A name missing from `ttl` never expires, like an explicit None: forgetting to configure a
    TTL must not make a server vanish.
    """
    return [
        Eviction(r.name, _action(r))
        for r in sorted(residents, key=lambda r: r.name)
        if _evictable(r) and (limit := ttl.get(r.name)) is not None and now - r.last_used >= limit
    ]


def _evictable(r: Resident) -> bool:
    return r.awake and not r.pinned and not r.busy and r.in_flight == 0 and r.tier != "hot"


def _victims(residents: Sequence[Resident]) -> list[Resident]:
    """Eligible victims, least valuable first."""
    return sorted(
        (r for r in residents if _evictable(r)),
        key=lambda r: (_TIER_RANK[r.tier], r.last_used, r.name),
    )


def _action(r: Resident) -> Action:
    # Sleep moves weights to host RAM: on the host itself that frees nothing, so stop instead.
    return "stop" if r.tier == "cold" or HOST in r.devices else "sleep"


def _cheapest_eviction(
    table: Sequence[Device], room: Mapping[str, int], residents: Sequence[Resident], want: Want
) -> Placement | None:
    """Try every set of devices_needed devices (at most 8 GPUs: cheap) and keep the cheapest."""
    victims = _victims(residents)
    rank = {v.name: i for i, v in enumerate(victims)}
    best: tuple[tuple[int, int, tuple[int, ...]], Placement] | None = None
    big = [i for i, d in enumerate(table) if d.ceiling >= want.budget]
    for combo in combinations(big, want.devices_needed):
        keys = tuple(table[i].key for i in combo)
        taken = _make_room({k: want.budget - room[k] for k in keys}, victims)
        if taken is None:
            continue
        cost = (len(taken), sum(rank[v.name] for v in taken), combo)
        if best is None or cost < best[0]:
            best = (cost, Placement(keys, tuple(Eviction(v.name, _action(v)) for v in taken)))
    return None if best is None else best[1]


def _make_room(deficit: dict[str, int], victims: list[Resident]) -> tuple[Resident, ...] | None:
    """The victims that bring every deficit to <= 0, or None if all of them together cannot.

    Eviction frees a victim's budget from both `planned` and `used` (vLLM preallocates about its
    budget), so it raises headroom by that budget on each of its devices. Victims are taken in
    value order, skipping those that only touch devices that already fit; then any victim whose
    budget turns out not to be needed (a bigger one came later) is given back, so nothing is
    stopped for nothing.
    """
    taken: list[Resident] = []
    for v in victims:
        if any(deficit.get(k, 0) > 0 for k in v.devices):
            taken.append(v)
            for k in deficit.keys() & set(v.devices):
                deficit[k] -= v.budget
    if any(n > 0 for n in deficit.values()):
        return None
    for v in reversed(list(taken)):
        if all(deficit[k] + v.budget <= 0 for k in deficit.keys() & set(v.devices)):
            taken.remove(v)
            for k in deficit.keys() & set(v.devices):
                deficit[k] += v.budget
    return tuple(taken)


def _blocked(table: Sequence[Device], residents: Sequence[Resident], want: Want) -> str:
    """Name what holds the memory on each device that could host `want`, and why it stays."""
    parts = []
    for d in table:
        if d.ceiling < want.budget:
            continue
        ours = planned(d.key, residents)
        holders = [
            f"{r.name} {_gib(r.budget)} ({', '.join(_why_kept(r))})"
            for r in residents
            if r.awake and d.key in r.devices and not _evictable(r)
        ]
        foreign = d.used - ours
        if foreign > 0:
            holders.append(f"{_gib(foreign)} not planned by us (other processes, CUDA contexts)")
        parts.append(f"{d.key} [ceiling {_gib(d.ceiling)}]: {'; '.join(holders) or 'nothing'}")
    return (
        f"{want.name} needs {_gib(want.budget)} on each of {want.devices_needed} device(s) "
        f"and no set of devices fits even after evicting every idle server; "
        f"held: {' | '.join(parts)}"
    )


def _why_kept(r: Resident) -> list[str]:
    flags = [("pinned", r.pinned), ("hot", r.tier == "hot"), ("busy", r.busy)]
    flags.append((f"{r.in_flight} in flight", r.in_flight > 0))
    return [label for label, on in flags if on]


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"
