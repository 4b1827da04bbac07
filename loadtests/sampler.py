"""Samples the stack's processes every second while a run goes on, into samples.csv: each
role's RSS, CPU seconds so far, open file descriptors and threads (the proxy's with its worker
processes, when `proxy.workers` starts more); the model servers' total RSS
(every descendant of the supervisor); the load generator's CPU (so a saturated generator
shows); and the host's CPU use. psutil reads /proc: about a millisecond per sample here."""

from __future__ import annotations

import contextlib
import csv
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import psutil


@dataclass(frozen=True)
class Sample:
    t: float
    role: str  # proxy, supervisor (or up), servers, locust, host
    rss_mb: float
    cpu_s: float  # user + system since the process started (host: % busy over the last second)
    fds: int
    threads: int


COLUMNS = [f.name for f in fields(Sample)]


def _one(t: float, role: str, procs: list[psutil.Process]) -> Sample:
    """The processes' figures added up (a proxy with `proxy.workers` is several)."""
    rss, cpu, fds, threads = 0, 0.0, 0, 0
    for proc in procs:
        with contextlib.suppress(psutil.Error), proc.oneshot():
            times = proc.cpu_times()
            rss += proc.memory_info().rss
            cpu += times.user + times.system
            fds += proc.num_fds()
            threads += proc.num_threads()
    return Sample(t, role, round(rss / 2**20, 2), round(cpu, 3), fds, threads)


def _servers(t: float, supervisor: psutil.Process) -> Sample:
    rss, count = 0, 0
    for child in supervisor.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            rss += child.memory_info().rss
            count += 1
    return Sample(t, "servers", round(rss / 2**20, 2), 0.0, 0, count)


def take(roles: dict[str, int], locust: int | None) -> list[Sample]:
    """One sample of each process; one that has exited is left out."""
    t = round(time.time(), 3)
    samples = [Sample(t, "host", 0.0, psutil.cpu_percent(), 0, 0)]
    watched = {**roles, **({"locust": locust} if locust else {})}
    for role, pid in watched.items():
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:  # exited, not yet reaped: no figures
                continue
            workers = proc.children() if role == "proxy" else []
            samples.append(_one(t, role, [proc, *workers]))
            if role in ("supervisor", "up"):
                samples.append(_servers(t, proc))
    return samples


@contextlib.contextmanager
def sampling(path: Path, roles: dict[str, int], locust: int | None) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        with path.open("w", newline="", buffering=1) as file:
            writer = csv.DictWriter(file, COLUMNS)
            writer.writeheader()
            while not stop.is_set():
                for sample in take(roles, locust):
                    writer.writerow(asdict(sample))
                stop.wait(1.0)

    psutil.cpu_percent()  # the first call only starts the interval
    thread = threading.Thread(target=loop, name="sampler", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def read(path: Path) -> list[Sample]:
    with path.open(newline="") as file:
        return [
            Sample(
                float(r["t"]),
                r["role"],
                float(r["rss_mb"]),
                float(r["cpu_s"]),
                int(r["fds"]),
                int(r["threads"]),
            )
            for r in csv.DictReader(file)
        ]
