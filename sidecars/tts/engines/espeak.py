"""espeak-ng, run as a binary: formant synthesis for English and nine Indian languages.

Robotic but fast (a few milliseconds of compute per second of audio) and offline; the only
engine here for hi, mr, bn, ta, te, kn, ml, gu and pa, and the English fallback when Piper is
missing. One short-lived process per request: text goes in on stdin (so input starting with
`-` is never read as an option, and no SSML is interpreted), a WAV comes back on stdout.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

from sidecars.tts.audio import Audio, NotWavError, from_streamed_wav
from sidecars.tts.engines.base import EngineUnavailable, Voice
from sidecars.tts.errors import EngineFailedError
from sidecars.tts.voices import Persona

NAME = "espeak-ng"
INSTALL_HINT = "install it with `apt-get install -y espeak-ng`"

# espeak-ng's voice for each language served. English is the US voice, to match Piper's.
VOICE_IDS: dict[str, str] = {
    "en": "en-us",
    "hi": "hi",
    "mr": "mr",
    "bn": "bn",
    "ta": "ta",
    "te": "te",
    "kn": "kn",
    "ml": "ml",
    "gu": "gu",
    "pa": "pa",
}

# espeak-ng's default rate. It will not go below 80 wpm, so OpenAI speeds under ~0.46 come out
# at 80 wpm; above 450 wpm it speeds up with libsonic.
_DEFAULT_WPM = 175
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class EspeakEngine:
    binary: str
    voices: tuple[Voice, ...]
    variants: frozenset[str]

    @property
    def name(self) -> str:
        return NAME

    def voice_for(self, language: str, persona: Persona | None) -> Voice:
        base = next(voice for voice in self.voices if voice.language == language)
        if persona is None or persona.espeak_variant not in self.variants:
            return base
        return Voice(NAME, f"{base.id}+{persona.espeak_variant}", language)

    def find_voice(self, voice_id: str) -> Voice | None:
        base_id, _, variant = voice_id.partition("+")
        if variant and variant not in self.variants:
            return None
        base = next((voice for voice in self.voices if voice.id == base_id), None)
        return None if base is None else Voice(NAME, voice_id, base.language)

    def synthesize(self, text: str, voice: Voice, speed: float) -> Audio:
        wpm = str(round(_DEFAULT_WPM * speed))
        argv = [self.binary, "-v", voice.id, "-s", wpm, "-b", "1", "--stdout", "--stdin"]
        try:
            done = subprocess.run(
                argv, input=text.encode("utf-8"), capture_output=True, timeout=_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineFailedError(f"espeak-ng took longer than {_TIMEOUT_S:.0f}s") from exc
        except OSError as exc:
            raise EngineFailedError(f"espeak-ng could not be started: {exc}") from exc
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip() or "no message"
            raise EngineFailedError(f"espeak-ng exited with {done.returncode}: {reason}")
        try:
            audio = from_streamed_wav(done.stdout)
        except NotWavError as exc:
            raise EngineFailedError(f"espeak-ng wrote no usable WAV: {exc}") from exc
        if not audio.pcm:
            raise EngineFailedError("espeak-ng produced no audio")
        return audio


def _listing(binary: str, which: str) -> list[list[str]]:
    try:
        done = subprocess.run(
            [binary, f"--voices={which}" if which else "--voices"],
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineUnavailable(f"`{binary} --voices` failed: {exc}") from exc
    lines = done.stdout.decode("utf-8", "replace").splitlines()[1:]  # first line: headings
    return [line.split() for line in lines if line.strip()]


def load(binary: str = "espeak-ng") -> EspeakEngine:
    """Find the binary and ask it which of our languages' voices and which variants it has."""
    path = shutil.which(binary)
    if path is None:
        raise EngineUnavailable(f"{binary} not found on PATH; {INSTALL_HINT}")
    # Columns: Pty Language Age/Gender VoiceName File [Other languages].
    installed = {row[1] for row in _listing(path, "") if len(row) > 1}
    voices = tuple(
        Voice(NAME, voice_id, language)
        for language, voice_id in VOICE_IDS.items()
        if voice_id in installed
    )
    if not voices:
        raise EngineUnavailable(f"{path} has none of the voices {sorted(VOICE_IDS.values())}")
    # A variant's File column is `!v/<id>`; its display name may contain spaces, so search.
    variants = frozenset(
        token.removeprefix("!v/")
        for row in _listing(path, "variant")
        for token in row
        if token.startswith("!v/")
    )
    return EspeakEngine(path, voices, variants)
