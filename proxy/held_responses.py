"""Requests about a stored response go to the server process that stored it (response_ids.py
says why): a follow-up with `previous_response_id`, `GET /v1/responses/{id}` and its cancel.

- an id this proxy never relayed, or has forgotten: 404 `response_not_found`;
- an id whose server has stopped or restarted since (its memory went with the process): 409
  `response_holder_gone`, never an answer from another model that lacks the conversation;
- otherwise the holder alone is the chain: retried as any server is, never fallen back from.
"""

from __future__ import annotations

from dataclasses import replace

from modelyard_config import Config
from proxy.backends import Backends
from proxy.errors import ResponseGoneError, ResponseNotFoundError, UnsupportedInputError
from proxy.resolve import Plan, intent_of_route, route_of, unfit
from proxy.response_ids import Holder, ResponseIds
from proxy.routing import Routed


async def holder(
    ids: ResponseIds, backends: Backends, response_id: str, param: str | None = None
) -> Holder:
    """The live holder of `response_id`, or the 404 or 409 that says why there is none."""
    held = ids.holder(response_id)
    if held is None:
        raise ResponseNotFoundError(
            f"No response with id {response_id!r} passed through this proxy in the last "
            f"{ids.ttl:g} s (it remembers the {ids.limit} most recent).",
            param=param,
        )
    if not await backends.still_holds(held.server, held.instance):
        raise ResponseGoneError(
            f"Response {response_id!r} was stored by server {held.server!r}, which has stopped "
            "or restarted since: vLLM keeps stored responses in the server's memory, so it is "
            "gone. Start again without previous_response_id.",
            param=param,
        )
    return held


def pinned(config: Config, routed: Routed, held: Holder) -> Routed:
    """The routing decision for a follow-up: the server that holds the conversation, alone."""
    why = unfit(config.servers[held.server], routed.features)
    if why is not None:
        raise UnsupportedInputError(
            f"The conversation of previous_response_id is held by {held.server!r}, which {why}.",
            param="previous_response_id",
        )
    route = route_of(config, held.server)
    plan = replace(
        routed.plan,
        intent=intent_of_route(config, route) if route else routed.plan.intent,
        route=route,
        candidates=(held.server,),
        skipped=(),
    )
    return replace(routed, plan=plan)


def held_plan(held: Holder, requested: str) -> Plan:
    """The chain for a request about one stored response: its holder."""
    return Plan(requested, None, None, (held.server,))
