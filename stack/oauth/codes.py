"""Authorization codes: single use, valid five minutes, bound to client, redirect URI, scope
and PKCE challenge. Stored as `io.cozy.oauth.access_codes` documents named by the code's
SHA-256, so a reader of the database cannot redeem one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.oauth.clients import hash_secret
from roost.oauth.errors import invalid_grant

CODES_DOCTYPE = "io.cozy.oauth.access_codes"
CODE_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class Grant:
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str


class AuthorizationCodes:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def issue(self, instance: Instance, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        await self.couch.put_doc(
            instance.db(CODES_DOCTYPE),
            {
                "_id": hash_secret(code),
                "client_id": grant.client_id,
                "redirect_uri": grant.redirect_uri,
                "scope": grant.scope,
                "code_challenge": grant.code_challenge,
                "expires_at": (datetime.now(UTC) + CODE_LIFETIME).isoformat(),
            },
        )
        return code

    async def redeem(self, instance: Instance, code: str | None) -> Grant:
        """The grant behind `code`, which is deleted first: a second redemption fails, even a
        concurrent one (the store refuses the second delete)."""
        if not code or len(code) > 200:
            raise invalid_grant("the authorization code is missing")
        db = instance.db(CODES_DOCTYPE)
        doc = await self.couch.get_doc_or_none(db, hash_secret(code))
        if doc is None:
            raise invalid_grant("the authorization code is unknown or was already used")
        try:
            await self.couch.delete_doc(db, doc["_id"], doc["_rev"])
        except (Conflict, NotFound):
            raise invalid_grant("the authorization code was already used") from None
        if datetime.fromisoformat(doc["expires_at"]) <= datetime.now(UTC):
            raise invalid_grant("the authorization code has expired")
        return Grant(
            client_id=doc["client_id"],
            redirect_uri=doc["redirect_uri"],
            scope=doc["scope"],
            code_challenge=doc["code_challenge"],
        )
