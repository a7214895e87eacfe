"""Who is on a socket: the AUTH payload (a token or an app password) or, for the owner's
own pages, the session cookie sent with the handshake — asked again and again while the
socket lives, so a revoked token, a deleted permission document or app password, a revoked
OAuth client, a new security stamp or an ended session closes it."""

from __future__ import annotations

from roost.errors import Unauthorized
from roost.instances import Instance, InstanceService
from roost.principals import Authenticator, Principal

__all__ = ["RealtimeAuth"]


class RealtimeAuth:
    def __init__(self, instances: InstanceService, authenticator: Authenticator) -> None:
        self.instances = instances
        self.authenticator = authenticator

    async def principal(
        self, domain: str, secret: str, session_cookie: str | None
    ) -> tuple[Instance, Principal]:
        """The instance (re-read, so a new stamp counts) and the principal; `Unauthorized`
        when the credentials are not (or no longer) good."""
        instance = await self.instances.find(domain)
        if instance is None:
            raise Unauthorized("this instance no longer exists")
        if secret:
            principal = await self.authenticator.authenticate(
                instance, authorization=f"Bearer {secret}", session_cookie=None
            )
        else:
            principal = await self.authenticator.authenticate(
                instance, authorization=None, session_cookie=session_cookie
            )
        if principal is None:
            raise Unauthorized(
                "AUTH needs a token or an app password, or the owner's session cookie"
            )
        return instance, principal
