"""CPU time and memory of a process tree, for `make bench-compare`.

A tree is a root process and its descendants in the root's process group: `modelyard up`
starts each server in a group of its own, so the tree of `up` is the proxy and the supervisor
(and any worker processes of theirs) without the servers they manage.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Tree:
    root: int  # pid; the tree is its process group's part of its descendants

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.root)
            group = os.getpgid(self.root)
            found = [root]
            for child in root.children(recursive=True):
                with contextlib.suppress(psutil.Error, ProcessLookupError):
                    if os.getpgid(child.pid) == group:
                        found.append(child)
        except (psutil.Error, ProcessLookupError):
            return []
        return found

    def cpu(self) -> dict[int, float]:
        """pid -> CPU seconds (user + system) so far, for every live process of the tree."""
        times = {}
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                spent = proc.cpu_times()
                times[proc.pid] = spent.user + spent.system
        return times

    def rss_mb(self) -> dict[int, float]:
        """pid -> resident set size in MB (10^6 bytes)."""
        sizes = {}
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                sizes[proc.pid] = proc.memory_info().rss / 1e6
        return sizes

    def describe(self) -> dict[int, str]:
        """pid -> the first words of its command line."""
        names = {}
        for proc in self.processes():
            with contextlib.suppress(psutil.Error):
                names[proc.pid] = " ".join(proc.cmdline()[:4])[:120]
        return names


def spent(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds each process spent between two `Tree.cpu` readings (new ones from zero)."""
    return {pid: cpu - before.get(pid, 0.0) for pid, cpu in after.items()}
