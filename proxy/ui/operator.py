"""Whether a caller of the page's JSON is the operator: holds the admin token. Pure, on the
request's headers, so it is tested without a server."""

from __future__ import annotations

from collections.abc import Mapping

from openai_wire.bearer import digest, same
from proxy.errors import AdminTokenError, UiActionsDisabledError

HEADER = "x-modelyard-admin-token"


class Operator:
    def __init__(self, token: str | None, token_env: str) -> None:
        self._digest = digest(token.encode()) if token is not None else None
        self.token_env = token_env

    @property
    def token_configured(self) -> bool:
        return self._digest is not None

    def recognises(self, headers: Mapping[str, str]) -> bool:
        given = headers.get(HEADER)
        if self._digest is None or not given:
            return False
        # surrogatepass: any string at all is bytes that match nothing, never an error
        return same(digest(given.encode("utf-8", "surrogatepass")), self._digest)

    def require(self, headers: Mapping[str, str]) -> None:
        """Nothing, or the error that refuses an action or a log tail to this caller."""
        if self._digest is None:
            raise UiActionsDisabledError(
                "The status page is read-only: actions and logs need an admin token. Set "
                f"supervisor.admin_token (or ${self.token_env}) and restart modelyard."
            )
        if not self.recognises(headers):
            raise AdminTokenError(
                f"Missing or wrong admin token: send it as {HEADER} (the page's admin token "
                f"box); it is supervisor.admin_token (or ${self.token_env})."
            )
