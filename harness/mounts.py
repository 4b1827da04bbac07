"""Mounts left under a folder, and taking them down: dockerd leaves `<exec-root>/netns/default`
(an nsfs mount) and overlay mounts under its data root, a killed debootstrap leaves /proc and
/sys in its target, and `rm -rf` fails on any of them (EBUSY)."""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

MNT_DETACH = 2  # umount2(2): lazy, so a busy mount still leaves the tree
_ESCAPE = re.compile(r"\\([0-7]{3})")


def mounted_under(root: Path) -> list[Path]:
    """Mount points at or below `root`, deepest first (the order to unmount them in)."""
    base = os.path.realpath(root)
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as table:
        for line in table:
            # mountinfo escapes space, tab, newline and backslash as octal (\040)
            point = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point == base or point.startswith(base + "/"):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def unmount_under(root: Path) -> list[Path]:
    """Unmount everything at or below `root`; returns what stayed mounted (empty when done)."""
    libc = ctypes.CDLL(None, use_errno=True)
    left = mounted_under(root)
    for _ in range(5):  # a point mounted twice needs a second pass
        for point in left:
            libc.umount2(os.fsencode(point), MNT_DETACH)  # a failure shows as what stays
        still = mounted_under(root)
        if not still or still == left:
            return still
        left = still
    return left
