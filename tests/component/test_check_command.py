"""`modelyard check` warns, and still passes, when a warm vLLM server cannot sleep (hardening
issue: the shipped warm servers lacked --enable-sleep-mode and were stopped instead)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from harness.stack import MODELYARD


def test_check_prints_the_warning_and_exits_zero(tmp_path: Path) -> None:
    config = {
        "supervisor": {
            "simulate_gpus_gb": [80],
            "defaults": {"command": ["vllm", "serve", "{model}", "--port", "{port}"]},
        },
        "servers": {"vl": {"model": "m", "tier": "warm", "gpu_memory_fraction": 0.2}},
        "routes": {"agent": ["vl"]},
    }
    path = tmp_path / "servers.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [MODELYARD, "check", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"warning: {path}: servers.vl: tier warm but its command has no" in done.stderr
    assert "it will be stopped, not put to sleep" in done.stderr
    assert f"{path}: ok" in done.stderr
