"""The OpenAI endpoints modelyard routes: one home for their paths.

The classifier's rules, the proxy's routes, `modelyard route` and the config's intents
(`endpoints: [...]`) all name them from here.
"""

from __future__ import annotations

from typing import Final, Literal

CHAT: Final = "/v1/chat/completions"
COMPLETIONS: Final = "/v1/completions"
TRANSCRIPTIONS: Final = "/v1/audio/transcriptions"
TRANSLATIONS: Final = "/v1/audio/translations"
SPEECH: Final = "/v1/audio/speech"

Endpoint = Literal[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/audio/speech",
]
ENDPOINTS: tuple[Endpoint, ...] = (CHAT, COMPLETIONS, TRANSCRIPTIONS, TRANSLATIONS, SPEECH)
# Text generation: the endpoints whose intent the request's content decides.
GENERATION = frozenset({CHAT, COMPLETIONS})
# Multipart audio uploads (OpenAI's form, a `file` field).
AUDIO_UPLOADS = frozenset({TRANSCRIPTIONS, TRANSLATIONS})
