"""The TTS sidecar's script detection: which language a text is spoken in when nothing says."""

from __future__ import annotations

import pytest

from sidecars.tts import languages


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello there", "en"),
        ("नमस्ते", "hi"),
        ("নমস্কার", "bn"),
        ("வணக்கம்", "ta"),
        ("నమస్కారం", "te"),
        ("નમસ્તે", "gu"),
        ("ਸਤ ਸ੍ਰੀ ਅਕਾਲ", "pa"),
        ("ನಮಸ್ಕಾರ", "kn"),
        ("നമസ്കാരം", "ml"),
        ("123 !!", "en"),
        ("मेरा नाम Ravi है और मैं दिल्ली में रहता हूँ", "hi"),
        ("Привет", None),
    ],
)
def test_script_detection(text: str, language: str | None) -> None:
    assert languages.detect(text).language == language
