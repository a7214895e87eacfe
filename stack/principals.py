"""Who is asking: the owner (session cookie), a token, or an app password.

`Authenticator.authenticate` is the only place credentials become a `Principal`; the HTTP
API, WebDAV and replication all call it, then ask `roost.permissions.decide`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from roost.app_passwords import SECRET_PREFIX, AppPasswords
from roost.errors import Unauthorized
from roost.instances import Instance
from roost.permission_docs import PermissionDocs
from roost.permissions import InvalidToken, PermissionSet
from roost.sessions import SessionService
from roost.tokens import VerifiedTokens

_TOKEN_AUDIENCES = frozenset({"app", "konn", "access", "share", "cli"})


@dataclass(frozen=True)
class Principal:
    kind: str  # "owner" | "token" | "app-password"
    permissions: PermissionSet
    subject: str
    audience: str | None = None
    permission_id: str | None = None
    session_id: str | None = None
    app_slug: str | None = None

    @property
    def is_owner(self) -> bool:
        return self.kind == "owner"

    @property
    def label(self) -> str:
        """How the access log names this principal."""
        if self.is_owner:
            return "owner"
        return f"{self.kind}:{self.subject}"


def credentials_from_authorization(header: str | None) -> str | None:
    """The secret in `Bearer X` or in the password half of `Basic base64(user:X)`."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthorized("malformed Basic credentials") from None
        _, sep, password = decoded.partition(":")
        if not sep or not password:
            raise Unauthorized("malformed Basic credentials")
        return password
    raise Unauthorized(f"unsupported authorization scheme {scheme!r}")


class Authenticator:
    def __init__(
        self,
        sessions: SessionService,
        permission_docs: PermissionDocs,
        app_passwords: AppPasswords,
    ) -> None:
        self.sessions = sessions
        self.permission_docs = permission_docs
        self.app_passwords = app_passwords
        self.verified_tokens = VerifiedTokens()

    async def authenticate(
        self,
        instance: Instance,
        *,
        authorization: str | None,
        session_cookie: str | None,
    ) -> Principal | None:
        """The principal behind these credentials; None if there are none; 401 if bad."""
        secret = credentials_from_authorization(authorization)
        if secret is not None:
            if secret.startswith(SECRET_PREFIX):
                return await self._from_app_password(instance, secret)
            return await self._from_token(instance, secret)
        if session_cookie:
            session = await self.sessions.find(instance, session_cookie)
            if session is not None:
                return Principal(
                    kind="owner",
                    permissions=PermissionSet.maximal_set(),
                    subject=instance.domain,
                    session_id=session.id,
                )
        return None

    async def _from_token(self, instance: Instance, token: str) -> Principal:
        try:
            claims = self.verified_tokens.verify(instance, token, _TOKEN_AUDIENCES)
        except InvalidToken as error:
            raise Unauthorized(f"invalid token: {error.reason}") from error
        if not claims.permission_id:
            raise Unauthorized("invalid token: it names no permission document")
        permissions = await self.permission_docs.load_set(instance, claims.permission_id)
        if permissions is None:
            raise Unauthorized("invalid token: it has been revoked")
        if permissions.is_expired(datetime.now(UTC)):
            raise Unauthorized("invalid token: its permissions have expired")
        app_slug = claims.subject if claims.audience in ("app", "konn") else None
        return Principal(
            kind="token",
            permissions=permissions,
            subject=claims.subject,
            audience=claims.audience,
            permission_id=claims.permission_id,
            session_id=claims.session_id,
            app_slug=app_slug,
        )

    async def _from_app_password(self, instance: Instance, secret: str) -> Principal:
        password = await self.app_passwords.verify(instance, secret)
        if password is None:
            raise Unauthorized("invalid app password")
        permissions = await self.permission_docs.load_set(instance, password.permission_id)
        if permissions is None:
            raise Unauthorized("invalid app password: it has been revoked")
        if permissions.is_expired(datetime.now(UTC)):
            raise Unauthorized("invalid app password: it has expired")
        return Principal(
            kind="app-password",
            permissions=permissions,
            subject=password.id,
            permission_id=password.permission_id,
        )
