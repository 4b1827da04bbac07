"""What the capacity code reads on a real NVIDIA box, checked once on a lent GPU machine.

CI and this project's own machines have no GPU, so three things are only seen here:
1. `open_reader()` picks NVML and reads each device's total/used/free;
2. a server started through the launcher seam (process_launcher.ProcessLauncher, as the
   supervisor starts one) whose *forked child* holds the GPU memory, as vLLM's EngineCore
   does: NVML lists that memory under a pid among the handle's `members()`, so a server's
   usage is the sum over its group; and `stop()` gives the memory back and leaves no member;
3. the GPU profile (servers.yaml) against the real total: each server's budget, which can
   never fit, and whether the hot tier fits under the ceiling.

    python bench/gpu_check.py [--gib 4]      (needs torch with CUDA for step 2)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelyard_config import load_config
from supervisor import budgets
from supervisor.command import LaunchSpec
from supervisor.devices import MemoryReader, open_reader
from supervisor.process_launcher import ProcessLauncher

GiB = 2**30
HOLD = """
import sys, time, torch
x = torch.empty(int(float(sys.argv[1]) * 2**30), dtype=torch.uint8, device="cuda")
x.fill_(1); torch.cuda.synchronize(); print("allocated", flush=True); time.sleep(600)
"""
# The server's leader forks the CUDA process and waits on it, like vLLM's API server and its
# EngineCore: the leader itself holds no GPU memory.
LEADER = """
import subprocess, sys
sys.exit(subprocess.call([sys.executable, "-c", sys.argv[1], sys.argv[2]]))
"""


async def launched(gib: float, log: Path, reader: MemoryReader, baseline: int) -> bool:
    """Step 2: start through the seam, read NVML per member pid, stop, read again."""
    spec = LaunchSpec(
        "gpu-holder", [sys.executable, "-c", LEADER, HOLD, str(gib)], {}, "", "", 60, 5
    )
    handle = await ProcessLauncher().start(spec, log)
    deadline = time.monotonic() + 60
    # A poll with a deadline: the child prints a line of its own once it holds the memory
    # (the log's banner quotes the command, so the word alone proves nothing).
    while time.monotonic() < deadline and not handle.exited:
        if "allocated" in log.read_text().splitlines():
            break
        await asyncio.sleep(0.2)
    members = handle.members()
    if handle.exited:
        print(f"the server exited ({handle.returncode}):\n{log.read_text()[-2000:]}")
    processes = reader.read()[0].processes
    ours = {pid: processes[pid] for pid in members if pid in processes}
    print(f"leader pid {handle.pid}, members {members}")
    print(f"  NVML processes: { {p: round(b / GiB, 2) for p, b in processes.items()} }")
    print(f"  attributed to the server's members: {sum(ours.values()) / GiB:.2f} GiB")
    ok = sum(ours.values()) >= gib * GiB and handle.pid not in ours
    began = time.monotonic()
    await handle.stop(spec.stop_grace)
    stopped = time.monotonic() - began
    after = reader.read()[0]
    freed = after.used - baseline
    print(
        f"  stop(): {stopped:.2f} s; members left {handle.members()}; used over baseline "
        f"{freed / GiB:.2f} GiB; NVML processes {list(after.processes)}"
    )
    return ok and not handle.members() and freed < 0.5 * GiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--config", default=str(Path(__file__).parents[1] / "servers.yaml"))
    args = parser.parse_args()
    reader, why = open_reader()
    print(f"reader: {reader.kind} ({why})")
    before = reader.read()
    for d in before:
        print(f"  {d.key} {d.name}: total {d.total / GiB:.2f} GiB, used {d.used / GiB:.2f}")
    ok = reader.kind == "gpu"
    with tempfile.TemporaryDirectory() as tmp:
        ok = (
            asyncio.run(launched(args.gib, Path(tmp) / "holder.log", reader, before[0].used)) and ok
        )
    config = load_config(args.config)
    total = before[0].total
    ceiling = budgets.ceiling(config.supervisor, total)
    print(f"\n{args.config} on {before[0].name}: ceiling {ceiling / GiB:.1f} GiB")
    hot = 0
    for name, spec in config.servers.items():
        b = budgets.budget_bytes(config, name, total)
        hot += b if spec.tier == "hot" else 0
        print(f"  {name:<26} {spec.tier:<5} budget {b / GiB:6.1f} GiB")
    problems = budgets.never_fit_problems(config, before)
    print(f"  hot tier {hot / GiB:.1f} GiB of {ceiling / GiB:.1f}; never fit: {problems or 'none'}")
    ok = ok and hot <= ceiling and not problems
    print("\nOK" if ok else "\nNOT OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
