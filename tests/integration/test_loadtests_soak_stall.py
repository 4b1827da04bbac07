"""The soak's stall fault on real processes (issue 14): the slow upstream is SIGSTOPped, the
probe stream sent into the stall is moved down its chain by the route's first-byte timeout
and ends with [DONE], and the stopped process is resumed. Fakes answer here
(loadtests/fakes.py): the fault and the proxy's timeout are under test, not a model."""

from __future__ import annotations

from pathlib import Path

import psutil

from harness.stack import stack_config, wait_for
from loadtests import soak
from loadtests.fakes import fakes_only
from loadtests.mix import NAMED_SERVER, SLOW_ROUTE
from loadtests.soak_faults import SLOW_SERVER, Fault, Schedule
from loadtests.stack import running, warm


def test_a_stall_sends_the_probe_down_the_chain_and_ends(tmp_path: Path) -> None:
    config = stack_config(tmp_path / "state")
    fakes_only(config)
    soak.configure(config)
    config["routes"][SLOW_ROUTE] = [SLOW_SERVER, NAMED_SERVER]  # the fake in tiny-qwen-b's place
    with running(tmp_path, config) as stack:
        assert all(w.startswith("ready") for w in warm(stack, [SLOW_SERVER, NAMED_SERVER]).values())
        plan = Schedule([Fault(0.0, "stall", SLOW_SERVER)])
        try:
            plan.tick(stack, 0.0)
            pid = stack.server(SLOW_SERVER)["pid"]
            assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
            fault = plan.faults[0]
            wait_for(
                lambda: plan.tick(stack, 1.0) or fault.probe_ok is not None,
                timeout=90,
                what="the probe stream to end",
                every=0.5,
            )
            assert fault.probe_ok, fault.probe
            assert f"{SLOW_SERVER}:timeout" in fault.probe and f"{NAMED_SERVER}:ok" in fault.probe
            wait_for(lambda: plan.tick(stack, 2.0) or not plan.stalled, 30, "the stall's end")
            assert psutil.Process(pid).status() != psutil.STATUS_STOPPED
        finally:
            plan.release()
