"""The media a run sends, made once at its start and read by every locust user: a PNG
(224 x 160), an English sentence spoken by espeak-ng (a WAV of about 4 s, so the STT
sidecar has real words to transcribe) and a 16-frame MP4.

    python -m loadtests.media DIR      # write them into DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from loadtests.mix import Media

FILES = {"png": "image.png", "wav": "speech.wav", "mp4": "clip.mp4"}


def load_media(folder: Path) -> Media:
    return Media(**{kind: (folder / name).read_bytes() for kind, name in FILES.items()})


def write_media(folder: Path) -> Media:
    # Imported here, not above: the locustfile imports this module in locust's venv, which
    # has neither PyAV nor the project; writing happens in the project's venv only.
    from harness import media
    from sidecars.stt.samples import SENTENCE, synthesize

    folder.mkdir(parents=True, exist_ok=True)
    (folder / FILES["png"]).write_bytes(media.png())
    synthesize(SENTENCE, folder / FILES["wav"])
    (folder / FILES["mp4"]).write_bytes(media.mp4())
    return load_media(folder)


if __name__ == "__main__":
    write_media(Path(sys.argv[1]))
