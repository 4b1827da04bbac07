"""Servers that fail on purpose, shared by the fault tests and `make faults` (bench/faults.py)."""

from __future__ import annotations

import sys

from tests.integration.stack import fake_server

# A server whose command exits at once, as a model with missing weights would.
BROKEN = {
    "model": "missing-weights",
    "command": [
        sys.executable,
        "-c",
        "import sys; print('boom: weights not found', flush=True); sys.exit(3)",
    ],
    "startup_timeout": 60,
}


# Primaries that fail in each way the fault suite covers (test_faults.py), each in front of
# the real tiny-qwen-a. Servers of their own, so that their circuit breakers trip nothing else.
FAULTY = {
    "crasher": {**BROKEN},
    "flaky": fake_server("--fail-status", "500", gpu_memory_gb=0.1),
    "sleeper": fake_server("--ready-after", "3600", gpu_memory_gb=0.1, startup_timeout=4),
    "slowstart": fake_server("--ready-after", "120", gpu_memory_gb=0.1, startup_timeout=300),
}
FAULT_ROUTES = {
    "fault-crash": ["crasher", "tiny-qwen-a"],
    "fault-5xx": ["flaky", "tiny-qwen-a"],
    "fault-hang": ["sleeper", "tiny-qwen-a"],
    "fault-load-kill": ["slowstart", "tiny-qwen-a"],
    "fault-all": ["flaky", "sleeper"],
}
