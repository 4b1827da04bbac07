"""Synthesisers behind one small interface (`engines.base.Engine`).

Each module here is the only code that touches its synthesiser: a Python library (piper,
Coqui TTS) or a binary (espeak-ng). Each offers a `load(...)` that either returns an engine or
raises `EngineUnavailable` saying why, so the catalog can report the reason in /v1/voices.
"""
