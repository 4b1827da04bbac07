"""What the proxy does beyond a request's chain, decided once: the one place that reads
`proxy.degrade` against a routed request. Pure: config and the routing decision in, a
`Degradation` (or None) out. Serving (compose.py) acts on it; `POST /route` reports it.

- speak: the request wants audio out (`modalities`, or an intent whose output is audio) and
  no server in its chain speaks: text from one chain, speech from another. Always composed.
- transcribe: chat with audio parts: their transcripts answered by a text chain, when no server
  in the chain hears audio, or (`fallback_only`) once every one that does has failed.
- frames: chat with a video: frames sent as images, on the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelyard_config import Config
from modelyard_config.endpoints import CHAT
from proxy.routing import Routed

Kind = Literal["speak", "transcribe", "frames"]


@dataclass(frozen=True)
class Degradation:
    kind: Kind
    # The chain has candidates: serve it first and degrade only when all of them fail.
    fallback_only: bool
    label: str  # for x-modelyard-degraded and /route: "video->frames:4"

    def describe(self) -> str:
        return f"{self.label} if every candidate fails" if self.fallback_only else self.label


def decide(config: Config, routed: Routed) -> Degradation | None:
    if routed.features.endpoint != CHAT:
        return None
    declared, features, plan = config.proxy.degrade, routed.features, routed.plan
    if declared.audio_out is not None and _wants_audio(config, routed):
        speakers = [s for s in plan.candidates if "audio_out" in config.servers[s].capabilities]
        if not speakers:
            return Degradation("speak", False, "audio_out->speech")
    fallback_only = bool(plan.candidates)
    if declared.audio_in is not None and features.audio_in:
        return Degradation("transcribe", fallback_only, "audio_in->transcript")
    if declared.video is not None and features.video:
        return Degradation("frames", fallback_only, f"video->frames:{declared.video.frames}")
    return None


def _wants_audio(config: Config, routed: Routed) -> bool:
    intent = config.classifier.intents.get(routed.plan.intent or "")
    return routed.features.audio_out or (intent is not None and "audio" in intent.outputs)
