"""The learned stage's models are what the data in eval/ trains: `eval/train.py` refits them
with the shipped C and temperature and compares (a weight may move by two 16-bit quanta on
another CPU's floating point, nothing more). The full search (`make train-router`, a few
minutes) chose those two; this runs the fit that turns data into weights, in seconds."""

from __future__ import annotations

import subprocess
import sys

from supervisor.paths import project_root


def test_the_shipped_models_are_what_the_data_trains() -> None:
    done = subprocess.run(
        [sys.executable, "eval/train.py", "--refit-check", "--no-head", "--quiet"],
        cwd=project_root(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the shipped models are what the data trains: intent, language" in done.stdout
