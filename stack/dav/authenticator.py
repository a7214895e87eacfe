"""WebDAV's `Authenticator` port over the stack's principals (app passwords and tokens)."""

from __future__ import annotations

from roost.instances import Instance
from roost.principals import Authenticator, Principal

from .errors import as_port_errors


class DavAuthenticator:
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def authenticate(self, instance: Instance, authorization: str | None) -> Principal | None:
        # Never a session cookie: WebDAV is for clients holding an app password or a token,
        # and a cookie would make cross-site writes possible.
        with as_port_errors():
            return await self.authenticator.authenticate(
                instance, authorization=authorization, session_cookie=None
            )
