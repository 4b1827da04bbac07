"""Per-server logs rotate by size (hardening issue): copy, then truncate, so a real child that
appends to its log (O_APPEND, as process_launcher.spawn opens it; an adopted server's file
cannot be reopened) carries on at the new end, and only `log_backups` copies are kept."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from supervisor import server_logs
from supervisor.command import LaunchSpec
from supervisor.monitor import Monitor
from supervisor.process_launcher import spawn
from tests.component.supervisor_fakes import FakeGpus, rig, server, until

MAX = 64 * 1024  # the config's minimum
# ~1 MB/s of numbered 1 KiB lines: a server with a chatty log
WRITER = (
    "import sys, time\n"
    "for i in range(10**9):\n"
    "    sys.stdout.write(f'line {i:09d} ' + 'x' * 1000 + '\\n'); sys.stdout.flush()\n"
    "    time.sleep(0.001)\n"
)


def numbers(path: Path) -> list[int]:
    return [int(n) for n in re.findall(rb"line (\d{9}) ", path.read_bytes())]


async def test_a_busy_servers_log_rotates_and_its_writer_continues_at_the_start(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, {"a": server(1)}, FakeGpus(10), log_max_bytes=MAX, log_backups=2) as r:
        log = r.fleet.get("a").log_path
        spec = LaunchSpec("a", [sys.executable, "-c", WRITER], {}, "", "", 5, 1)
        handle = spawn(spec, log)
        try:
            monitor = Monitor(r.fleet)
            one, two = server_logs.backup(log, 1), server_logs.backup(log, 2)
            rotations = 0
            while rotations < 3:  # the third shifts .1 to .2 and drops the old .2
                await until(lambda: log.stat().st_size > MAX, "the log to pass the limit", 30)
                await monitor.tick()
                rotations += 1
            await until(lambda: log.stat().st_size > 0, "the writer to write again", 10)
        finally:
            await handle.stop(1)
        assert sorted(p.name for p in log.parent.iterdir()) == ["a.log", "a.log.1", "a.log.2"]
        for copy in (one, two):
            assert copy.stat().st_size > MAX
        head = log.read_bytes()[:4096]
        assert b"\0" not in head, "the writer went on at its old offset, leaving a hole"
        assert head.startswith(b"line "), "the truncated log starts with the writer's next line"
        older, newer, current = numbers(two), numbers(one), numbers(log)
        assert older[-1] < newer[0] and newer[-1] < current[0], "oldest in .2, newest in the log"


def test_rotate_leaves_a_small_log_alone_and_without_backups_only_truncates(
    tmp_path: Path,
) -> None:
    log = tmp_path / "a.log"
    assert not server_logs.rotate(log, 10, 2), "no log yet"
    log.write_bytes(b"x" * 10)
    assert not server_logs.rotate(log, 10, 2)
    log.write_bytes(b"x" * 11)
    assert server_logs.rotate(log, 10, 0)
    assert log.read_bytes() == b"" and sorted(p.name for p in tmp_path.iterdir()) == ["a.log"]
