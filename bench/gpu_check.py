"""What the capacity code reads on a real NVIDIA box, checked once on a lent GPU machine.

CI and this project's own machines have no GPU, so three things are only seen here:
1. `open_reader()` picks NVML and reads each device's total/used/free;
2. NVML attributes a process's GPU memory to its pid as the supervisor sees it (the fleet
   sums a server's process group by pid; in a container NVML may report other pids or none);
3. the GPU profile (servers.yaml) against the real total: each server's budget, which can
   never fit, and whether the hot tier fits under the ceiling.

    python bench/gpu_check.py [--gib 4]      (needs torch with CUDA for step 2)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modelyard_config import load_config
from supervisor import budgets
from supervisor.devices import open_reader

GiB = 2**30
HOLD = """
import sys, time, torch
x = torch.empty(int(float(sys.argv[1]) * 2**30), dtype=torch.uint8, device="cuda")
x.fill_(1); torch.cuda.synchronize(); print("allocated", flush=True); time.sleep(60)
"""


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
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(args.gib)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        print(f"child pid {child.pid} (our pid {os.getpid()}): {line}")
        time.sleep(1)
        after = reader.read()[0]
        grew = (after.used - before[0].used) / GiB
        print(f"  used grew by {grew:.2f} GiB for {args.gib} GiB asked")
        print(f"  NVML processes: { {p: round(b / GiB, 2) for p, b in after.processes.items()} }")
        seen = after.processes.get(child.pid, 0) / GiB
        print(f"  the child's pid in NVML's list: {seen:.2f} GiB")
        ok = ok and grew >= args.gib and seen >= args.gib
    finally:
        child.kill()
        child.wait()
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
