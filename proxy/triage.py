"""The classifier's last stage (optional, `classifier.triage: SERVER`): ask an LLM which of
the tied intents a request is, when the cheaper stages are unsure.

It lives outside classify/ (which is pure) because it is a request like any other: it goes
through the chain, so it gets the supervisor's start on demand, retries, the breaker and the
metrics. It costs a generation (tens to hundreds of milliseconds on a GPU), so it is off by
default and bounded by `classifier.triage_timeout`. Any failure (the server cannot start,
times out, or answers something that is not one of the intents) is a reason, not an error:
the classifier falls back to its default.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence

from starlette.responses import StreamingResponse

from modelyard_config import Config
from modelyard_config.classifier import IntentSpec
from modelyard_config.endpoints import CHAT
from proxy.bodies import JsonBody
from proxy.errors import ProxyError
from proxy.fallback import Chain
from proxy.resolve import Plan

_PROMPT_CHARS = 2000  # the intent shows in the first lines; a long document only costs time


class LlmTriage:
    def __init__(self, config: Config, chain: Chain) -> None:
        settings = config.classifier
        assert settings.triage is not None
        self.server = settings.triage
        self.intents: Mapping[str, IntentSpec] = settings.intents
        self.timeout = settings.triage_timeout
        self.chain = chain
        # The triage server alone: its route's other servers were not asked to classify.
        self._plan = Plan(self.server, None, None, (self.server,))

    async def __call__(self, text: str, tied: Sequence[str]) -> tuple[str | None, str]:
        try:
            answer = await asyncio.wait_for(self._ask(text, tied), self.timeout)
        except TimeoutError:
            return None, f"{self.server} did not answer within {self.timeout:g} s"
        except (ProxyError, ValueError, KeyError, TypeError, IndexError) as exc:
            return None, f"{self.server} failed: {exc}"
        chosen = parse_answer(answer, tied)
        if chosen is None:
            return None, f"{self.server} answered {answer[:40]!r}, not one of {', '.join(tied)}"
        return chosen, f"{self.server} chose {chosen}"

    async def _ask(self, text: str, tied: Sequence[str]) -> str:
        body = JsonBody(
            {
                "messages": [
                    {"role": "system", "content": prompt(self.intents, tied)},
                    {"role": "user", "content": text[:_PROMPT_CHARS]},
                ],
                "max_tokens": 8,
                "temperature": 0,
            }
        )
        response = await self.chain.send(self._plan, CHAT, body, {})
        if response.status_code != 200 or isinstance(response, StreamingResponse):
            raise ValueError(f"HTTP {response.status_code} ({response.media_type})")
        reply = json.loads(bytes(response.body))
        return str(reply["choices"][0]["message"]["content"] or "")


def prompt(intents: Mapping[str, IntentSpec], tied: Sequence[str]) -> str:
    options = "\n".join(f"- {name}: {intents[name].description or name}" for name in tied)
    return (
        "Classify the user's request. Answer with exactly one of these intent names and "
        f"nothing else:\n{options}"
    )


def parse_answer(answer: str, tied: Sequence[str]) -> str | None:
    """The first intent name the answer contains as a word, ignoring case and trailing
    punctuation ("Legal.", "**tts**")."""
    names = {name.casefold(): name for name in tied}
    for token in re.findall(r"[\w.:/-]+", answer):
        found = names.get(token.strip(".:/-").casefold())
        if found is not None:
            return found
    return None
