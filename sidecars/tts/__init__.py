"""Text-to-speech sidecar: an OpenAI-compatible `/v1/audio/speech` over offline engines.

Run it with `python -m sidecars.tts --host H --port P`. Modules, imports pointing one way:

    languages, voices, audio, errors      pure data and rules, import nothing of ours but errors
    engines/ (piper, espeak, coqui)       the only code that runs a synthesiser
    catalog                               loads the engines once, records why any is missing
    choose                                pure: request + catalog -> engine, voice, language
    speech_request, encode                parse the body; turn PCM into the asked-for format
    runtime, app, __main__                readiness state, HTTP routes, the command line
    bench                                 compute seconds per audio second, per engine
"""
