"""The endpoints modelyard routes: one home for their paths.

The classifier's rules, the proxy's routes, `modelyard route` and the config's intents
(`endpoints: [...]`) all name them from here, and so does the capability a server needs to be
sent each one (`NEEDS`).
"""

from __future__ import annotations

from typing import Final, Literal

CHAT: Final = "/v1/chat/completions"
COMPLETIONS: Final = "/v1/completions"
TRANSCRIPTIONS: Final = "/v1/audio/transcriptions"
TRANSLATIONS: Final = "/v1/audio/translations"
SPEECH: Final = "/v1/audio/speech"
EMBEDDINGS: Final = "/v1/embeddings"
RERANK: Final = "/v1/rerank"
RERANK_V2: Final = "/v2/rerank"  # Cohere's v2 shape, as vLLM serves it
SCORE: Final = "/v1/score"
RESPONSES: Final = "/v1/responses"
MESSAGES: Final = "/v1/messages"  # Anthropic's Messages API
COUNT_TOKENS: Final = "/v1/messages/count_tokens"

Endpoint = Literal[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/audio/transcriptions",
    "/v1/audio/translations",
    "/v1/audio/speech",
    "/v1/embeddings",
    "/v1/rerank",
    "/v2/rerank",
    "/v1/score",
    "/v1/responses",
    "/v1/messages",
    "/v1/messages/count_tokens",
]
ENDPOINTS: tuple[Endpoint, ...] = (
    CHAT,
    COMPLETIONS,
    TRANSCRIPTIONS,
    TRANSLATIONS,
    SPEECH,
    EMBEDDINGS,
    RERANK,
    RERANK_V2,
    SCORE,
    RESPONSES,
    MESSAGES,
    COUNT_TOKENS,
)
# Text generation: the endpoints whose intent the request's content decides. count_tokens is
# routed as the Messages request it counts would be: the count is the answering model's.
GENERATION = frozenset({CHAT, COMPLETIONS, RESPONSES, MESSAGES, COUNT_TOKENS})
# The endpoints whose body bounds the answer's tokens (max_tokens and its kin), so a server's
# `max_tokens` ceiling applies to them (proxy/bodies.py names the fields).
TOKEN_BOUNDED = frozenset({CHAT, COMPLETIONS, RESPONSES, MESSAGES})
# Multipart audio uploads (OpenAI's form, a `file` field).
AUDIO_UPLOADS = frozenset({TRANSCRIPTIONS, TRANSLATIONS})
# Pooling models (vLLM's --runner pooling): vectors and scores, never text.
POOLING = frozenset({EMBEDDINGS, RERANK, RERANK_V2, SCORE})
# Anthropic's wire: its error shape, its stream events, its x-api-key header.
ANTHROPIC = frozenset({MESSAGES, COUNT_TOKENS})

# The capability a server must declare to be sent each endpoint, beyond what the request's
# inputs ask for (images, audio, tools). Chat and completions need only `text`.
NEEDS: dict[str, tuple[str, ...]] = {
    CHAT: ("text",),
    COMPLETIONS: ("text",),
    TRANSCRIPTIONS: ("transcription",),
    TRANSLATIONS: ("transcription",),
    SPEECH: ("speech",),
    EMBEDDINGS: ("embedding",),
    RERANK: ("rerank",),
    RERANK_V2: ("rerank",),
    SCORE: ("rerank",),
    RESPONSES: ("text", "responses"),
    MESSAGES: ("text", "messages"),
    COUNT_TOKENS: ("text", "messages"),
}

# What a remote server (`servers.<name>.remote`) is called with for each endpoint: the LiteLLM
# SDK function (1.106.12, read from its source) proxy/remote.py awaits. An endpoint absent here
# has no call: translations (LiteLLM has no function for them), rerank and score (not wired:
# LiteLLM's `arerank` is not mapped onto vLLM's three shapes), a token count, a stored
# response's GET or cancel. A remote server is passed over for those (`unsupported`), and
# `capabilities` that only such endpoints need are refused on a remote server (checks.py).
REMOTE_CALLS: dict[str, str] = {
    CHAT: "acompletion",
    COMPLETIONS: "atext_completion",
    EMBEDDINGS: "aembedding",
    TRANSCRIPTIONS: "atranscription",
    SPEECH: "aspeech",
    RESPONSES: "aresponses",
    MESSAGES: "anthropic_messages",
}
