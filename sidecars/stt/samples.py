"""English speech for the benchmark and the tests, synthesised offline with espeak-ng.

No installed package ships a speech recording (checked: the model packages, av,
faster_whisper, the Python test suites hold only tones and plucks), and this machine has no
internet, so speech is generated. espeak-ng's voice is robotic but real phonetic speech:
Whisper tiny.en transcribes the sentences below word for word. A missing espeak-ng is an
error that says how to install it, never a silent skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SENTENCE = "Please send the weekly report to the finance team before Friday."
PASSAGE = (
    "Please send the weekly report to the finance team before Friday. "
    "The meeting on Tuesday will start at ten in the morning, in the large room upstairs. "
    "Remember to bring the budget figures and the notes from last month. "
    "If anyone cannot attend, write to the office so that we can plan the next steps."
)


class SpeechToolMissing(RuntimeError):
    """espeak-ng is not installed."""


def synthesize(text: str, path: Path, voice: str = "en-us", words_per_minute: int = 140) -> Path:
    """Write `text` spoken as a 22 kHz mono WAV to `path` and return it."""
    tool = shutil.which("espeak-ng")
    if tool is None:
        raise SpeechToolMissing(
            "espeak-ng is needed to synthesise test speech: apt-get install -y espeak-ng"
        )
    subprocess.run(
        [tool, "-v", voice, "-s", str(words_per_minute), "-w", str(path), text],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path
