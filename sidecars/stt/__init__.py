"""Speech-to-text sidecar: an OpenAI-compatible `/v1/audio/*` server over faster-whisper.

Imports run one way, each module with one job:

    settings ← assemble ← catalog ← whisper ← __main__ (load, then serve)
    errors ← audio, form, selection, render ← app ← __main__
    engine: the interface `app` sees; whisper implements it
    samples, bench: synthetic speech and the real-time-factor measurement

`python -m sidecars.stt --host H --port P` serves; `python -m sidecars.stt.bench` measures.
"""
