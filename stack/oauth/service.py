"""OAuth 2 for devices: registration, authorization code with PKCE, tokens, revocation.

A client's grant is one `io.cozy.permissions` document (kind `oauth`, source
`io.cozy.oauth.clients/{id}`) holding the scope the owner consented to. Access tokens
(`aud` access, one hour) and refresh tokens (`aud` refresh, no expiry) both point at it:
deleting it, or the client, ends both. A refresh also checks that the client still exists.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.oauth.clients import ClientRegistry, OAuthClient, same_secret
from roost.oauth.codes import AuthorizationCodes, Grant
from roost.oauth.errors import (
    OAuthError,
    invalid_client,
    invalid_grant,
    invalid_request,
    invalid_scope,
)
from roost.oauth.pkce import check_challenge, check_verifier
from roost.permission_docs import PermissionDocs
from roost.permissions import InvalidRule, InvalidToken, PermissionSet, verify_token
from roost.tokens import TokenService
from roost.types import JSONDoc

ACCESS_TOKEN_TTL = timedelta(hours=1)
MAX_STATE_LENGTH = 1000


def source_of(client_id: str) -> str:
    return f"io.cozy.oauth.clients/{client_id}"


class AuthorizationError(OAuthError):
    """An error in a request whose redirect URI is the client's: it may be told about it
    through that URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, reason: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(error, reason)
        self.redirect_uri = redirect_uri
        self.state = state

    @property
    def location(self) -> str:
        params = {"error": self.error, "error_description": self.reason}
        if self.state:
            params["state"] = self.state
        return with_query(self.redirect_uri, params)


def with_query(uri: str, params: Mapping[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked `/auth/authorize` request, ready for the owner's consent."""

    client: OAuthClient
    redirect_uri: str
    state: str
    scope: str
    permissions: PermissionSet
    code_challenge: str

    def consent_lines(self) -> list[str]:
        return self.permissions.describe()

    def fields(self) -> dict[str, str]:
        """The request again, for the hidden fields of the consent form."""
        return {
            "response_type": "code",
            "client_id": self.client.id,
            "redirect_uri": self.redirect_uri,
            "state": self.state,
            "scope": self.scope,
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str | None
    secret: str | None


def client_credentials(authorization: str | None, form: Mapping[str, str]) -> ClientCredentials:
    """`client_secret_basic` (RFC 6749 §2.3.1: form-urlencoded id and secret in Basic) or
    `client_secret_post` / public clients (`client_id` in the form)."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise invalid_client("malformed Basic credentials") from None
        client_id, _, secret = decoded.partition(":")
        return ClientCredentials(unquote(client_id), unquote(secret))
    return ClientCredentials(form.get("client_id"), form.get("client_secret"))


class OAuthService:
    def __init__(
        self, couch: CouchClient, permission_docs: PermissionDocs, tokens: TokenService
    ) -> None:
        self.clients = ClientRegistry(couch)
        self.codes = AuthorizationCodes(couch)
        self.permission_docs = permission_docs
        self.tokens = tokens

    # -- registration (RFC 7591, 7592) -----------------------------------------------------

    async def register(self, instance: Instance, body: Any) -> JSONDoc:
        _, answer = await self.clients.register(instance, body)
        answer["registration_client_uri"] = f"/auth/register/{answer['client_id']}"
        return answer

    async def managed_client(
        self, instance: Instance, client_id: str, registration_token: str | None
    ) -> OAuthClient:
        """The client, if `registration_token` is its registration access token."""
        client = await self.clients.get(instance, client_id)
        if client is None or not same_secret(registration_token, client.registration_token_hash):
            raise OAuthError("invalid_token", "unknown client or wrong registration token", 401)
        return client

    # -- authorization ---------------------------------------------------------------------

    async def check_authorization(
        self, instance: Instance, params: Mapping[str, str]
    ) -> AuthorizationRequest:
        """Validate an authorization request. Errors before the redirect URI is known to be
        the client's are `OAuthError`; later ones are `AuthorizationError`, which carry the
        error redirect to the client."""
        client = await self.clients.get(instance, params.get("client_id", ""))
        if client is None:
            raise invalid_request("unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise invalid_request("redirect_uri is not one the client registered")
        state = params.get("state")

        def fail(error: str, reason: str) -> AuthorizationError:
            return AuthorizationError(error, reason, redirect_uri, state)

        if params.get("response_type") != "code":
            raise fail("unsupported_response_type", "only response_type=code is supported")
        if not state or len(state) > MAX_STATE_LENGTH:
            raise fail("invalid_request", "state is required (at most 1000 characters)")
        try:
            challenge = check_challenge(
                params.get("code_challenge"), params.get("code_challenge_method")
            )
        except OAuthError as error:
            raise fail(error.error, error.reason) from None
        scope = params.get("scope", "").strip()
        if not scope:
            raise fail("invalid_scope", "scope is required: the permissions asked for")
        try:
            permissions = PermissionSet.from_inline(scope)
        except InvalidRule as error:
            raise fail("invalid_scope", str(error)) from None
        return AuthorizationRequest(
            client=client,
            redirect_uri=redirect_uri,
            state=state,
            scope=permissions.to_inline(),
            permissions=permissions,
            code_challenge=challenge,
        )

    async def approve(self, instance: Instance, request: AuthorizationRequest) -> str:
        """Issue a code; the URI to send the browser to."""
        code = await self.codes.issue(
            instance,
            Grant(
                client_id=request.client.id,
                redirect_uri=request.redirect_uri,
                scope=request.scope,
                code_challenge=request.code_challenge,
            ),
        )
        return with_query(request.redirect_uri, {"code": code, "state": request.state})

    @staticmethod
    def deny(request: AuthorizationRequest) -> str:
        error = AuthorizationError(
            "access_denied", "the owner refused", request.redirect_uri, request.state
        )
        return error.location

    # -- tokens ----------------------------------------------------------------------------

    async def token(
        self, instance: Instance, form: Mapping[str, str], authorization: str | None
    ) -> JSONDoc:
        grant_type = form.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError(
                "unsupported_grant_type", "grant_type is authorization_code or refresh_token"
            )
        client = await self._authenticate_client(instance, client_credentials(authorization, form))
        if grant_type == "authorization_code":
            return await self._exchange_code(instance, client, form)
        return await self._refresh(instance, client, form.get("refresh_token"))

    async def _authenticate_client(
        self, instance: Instance, credentials: ClientCredentials
    ) -> OAuthClient:
        if not credentials.client_id:
            raise invalid_client("client_id is required")
        client = await self.clients.get(instance, credentials.client_id)
        if client is None:
            raise invalid_client("unknown client (it may have been revoked)")
        if not client.public and not same_secret(credentials.secret, client.secret_hash):
            raise invalid_client("wrong or missing client_secret")
        return client

    async def _exchange_code(
        self, instance: Instance, client: OAuthClient, form: Mapping[str, str]
    ) -> JSONDoc:
        grant = await self.codes.redeem(instance, form.get("code"))
        if grant.client_id != client.id:
            raise invalid_grant("the code was issued to another client")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise invalid_grant("redirect_uri differs from the authorization request's")
        check_verifier(form.get("code_verifier"), grant.code_challenge)
        try:
            permissions = PermissionSet.from_inline(grant.scope)
        except InvalidRule as error:
            raise invalid_scope(str(error)) from None
        permission_id = await self._store_grant(instance, client, permissions, grant.scope)
        refresh = self.tokens.sign(
            instance,
            audience="refresh",
            subject=client.id,
            permission_id=permission_id,
            ttl=None,
        )
        return self._token_answer(instance, client.id, permission_id, grant.scope, refresh)

    async def _refresh(
        self, instance: Instance, client: OAuthClient, refresh_token: str | None
    ) -> JSONDoc:
        if not refresh_token:
            raise invalid_request("refresh_token is required")
        try:
            claims = verify_token(
                refresh_token,
                secret=instance.secret,
                issuer=instance.domain,
                stamp=instance.stamp,
                audiences=("refresh",),
            )
        except InvalidToken as error:
            raise invalid_grant(f"invalid refresh token: {error.reason}") from None
        if claims.subject != client.id:
            raise invalid_grant("the refresh token belongs to another client")
        permission_id = claims.permission_id
        if not permission_id or permission_id != client.permission_id:
            raise invalid_grant("the refresh token was revoked")
        if await self.permission_docs.get(instance, permission_id) is None:
            raise invalid_grant("the refresh token was revoked")
        return self._token_answer(instance, client.id, permission_id, client.scope, refresh_token)

    def _token_answer(
        self,
        instance: Instance,
        client_id: str,
        permission_id: str,
        scope: str | None,
        refresh_token: str,
    ) -> JSONDoc:
        access = self.tokens.sign(
            instance,
            audience="access",
            subject=client_id,
            permission_id=permission_id,
            ttl=ACCESS_TOKEN_TTL,
        )
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "refresh_token": refresh_token,
            "scope": scope or "",
        }

    async def _store_grant(
        self, instance: Instance, client: OAuthClient, permissions: PermissionSet, scope: str
    ) -> str:
        """The client's permission document, created or given the newly consented scope."""
        doc = (
            await self.permission_docs.get(instance, client.permission_id)
            if client.permission_id
            else None
        )
        if doc is not None:
            await self.permission_docs.update(
                instance, {**doc, "permissions": permissions.to_json()}
            )
        else:
            doc = await self.permission_docs.create(
                instance,
                "oauth",
                permissions,
                source_id=source_of(client.id),
                extra={"client_name": client.client_name},
            )
        client.permission_id = doc["_id"]
        client.scope = scope
        client.authorized_at = datetime.now(UTC).isoformat()
        await self.clients.save(instance, client)
        return str(doc["_id"])

    # -- revocation ------------------------------------------------------------------------

    async def revoke_client(self, instance: Instance, client_id: str) -> None:
        """Delete the client and its grant: its access and refresh tokens stop working."""
        client = await self.clients.get(instance, client_id)
        if client is None:
            raise NotFound("no such OAuth client")
        await self._delete_grants(instance, client)
        await self.clients.delete(instance, client)

    async def revoke_token(
        self,
        instance: Instance,
        form: Mapping[str, str],
        authorization: str | None,
    ) -> None:
        """RFC 7009: revoking an access or refresh token ends the client's grant (both kinds
        of token); the client stays registered and may ask for consent again. An unknown
        or invalid token is not an error (RFC 7009 §2.2)."""
        client = await self._authenticate_client(instance, client_credentials(authorization, form))
        try:
            claims = verify_token(
                form.get("token", ""),
                secret=instance.secret,
                issuer=instance.domain,
                stamp=instance.stamp,
                audiences=("access", "refresh"),
            )
        except InvalidToken:
            return
        if claims.subject != client.id:
            return
        await self._delete_grants(instance, client)
        client.permission_id = None
        client.scope = None
        try:
            await self.clients.save(instance, client)
        except Conflict:
            pass

    async def _delete_grants(self, instance: Instance, client: OAuthClient) -> None:
        ids = {
            doc["_id"]
            for doc in await self.permission_docs.find_by_source(instance, source_of(client.id))
        }
        if client.permission_id:
            ids.add(client.permission_id)
        for permission_id in ids:
            try:
                await self.permission_docs.delete(instance, permission_id)
            except (NotFound, Conflict):
                pass

    async def list_clients(self, instance: Instance) -> list[OAuthClient]:
        return sorted(await self.clients.list(instance), key=lambda c: c.created_at, reverse=True)
