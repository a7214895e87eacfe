"""OAuth clients (devices, desktop apps), stored as `io.cozy.oauth.clients` documents.

Registration is open (RFC 7591), as in cozy-stack: a registered client can do nothing until
the owner consents on the authorization page. Secrets (client secret, registration access
token) are stored as SHA-256 hashes; they are shown once, in the registration answer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.oauth.errors import OAuthError, invalid_client_metadata, invalid_redirect_uri
from roost.types import JSONDoc

CLIENTS_DOCTYPE = "io.cozy.oauth.clients"
# "none": a public client (a phone app cannot keep a secret); PKCE protects its codes.
PUBLIC_METHOD = "none"
AUTH_METHODS = (PUBLIC_METHOD, "client_secret_basic", "client_secret_post")
MAX_CLIENTS = 500
# A client nobody authorized within a day is forgotten when another registers.
UNAUTHORIZED_LIFETIME = timedelta(days=1)
_TEXT_FIELDS = ("client_name", "client_kind", "software_id", "software_version")
_URL_FIELDS = ("client_uri", "logo_uri", "policy_uri")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(secret: str | None, stored_hash: str | None) -> bool:
    if not secret or not stored_hash:
        return False
    return hmac.compare_digest(hash_secret(secret), stored_hash)


@dataclass
class OAuthClient:
    id: str
    redirect_uris: list[str]
    client_name: str
    token_endpoint_auth_method: str
    created_at: str
    secret_hash: str | None = None
    registration_token_hash: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    permission_id: str | None = None
    scope: str | None = None
    authorized_at: str | None = None
    rev: str | None = None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC_METHOD

    def to_doc(self) -> JSONDoc:
        doc: JSONDoc = {
            "_id": self.id,
            "redirect_uris": self.redirect_uris,
            "client_name": self.client_name,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "created_at": self.created_at,
            "client_secret_hash": self.secret_hash,
            "registration_token_hash": self.registration_token_hash,
            "metadata": self.metadata,
            "permission_id": self.permission_id,
            "scope": self.scope,
            "authorized_at": self.authorized_at,
        }
        if self.rev:
            doc["_rev"] = self.rev
        return doc

    @classmethod
    def from_doc(cls, doc: JSONDoc) -> OAuthClient:
        return cls(
            id=doc["_id"],
            redirect_uris=list(doc["redirect_uris"]),
            client_name=doc["client_name"],
            token_endpoint_auth_method=doc["token_endpoint_auth_method"],
            created_at=doc["created_at"],
            secret_hash=doc.get("client_secret_hash"),
            registration_token_hash=doc.get("registration_token_hash"),
            metadata=dict(doc.get("metadata") or {}),
            permission_id=doc.get("permission_id"),
            scope=doc.get("scope"),
            authorized_at=doc.get("authorized_at"),
            rev=doc.get("_rev"),
        )

    def public_view(self) -> JSONDoc:
        """What RFC 7591/7592 answers show of a client (never its secrets)."""
        return {
            "client_id": self.id,
            "client_name": self.client_name,
            "redirect_uris": self.redirect_uris,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_id_issued_at": int(datetime.fromisoformat(self.created_at).timestamp()),
            **self.metadata,
        }


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: Any) -> str:
    """https anywhere; http only to the loopback (RFC 8252 §7.3); or a private-use scheme in
    reverse-DNS form for native apps (`org.example.app:/callback`, RFC 8252 §7.1)."""
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        raise invalid_redirect_uri("each redirect URI is a non-empty string")
    if any(ord(ch) < 33 for ch in uri):
        raise invalid_redirect_uri("redirect URIs may not contain spaces or control characters")
    parts = urlsplit(uri)
    if parts.fragment:
        raise invalid_redirect_uri("a redirect URI may not have a fragment")
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return uri
    if scheme == "http" and _is_loopback(parts.hostname):
        return uri
    if "." in scheme and scheme not in ("javascript", "data", "file"):
        return uri
    raise invalid_redirect_uri(
        f"{uri!r}: use https, http on the loopback, or a reverse-DNS scheme (org.example.app:/cb)"
    )


def parse_registration(body: Any) -> tuple[list[str], str, str, dict[str, str]]:
    """(redirect URIs, client name, auth method, other metadata) from an RFC 7591 request."""
    if not isinstance(body, dict):
        raise invalid_client_metadata("the body must be a JSON object")
    uris = body.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > 10:
        raise invalid_redirect_uri("redirect_uris must list 1 to 10 URIs")
    redirect_uris = [check_redirect_uri(uri) for uri in uris]
    name = body.get("client_name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise invalid_client_metadata("client_name is required (at most 200 characters)")
    method = body.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise invalid_client_metadata(f"token_endpoint_auth_method must be one of {AUTH_METHODS}")
    for key in ("grant_types", "response_types"):
        value = body.get(key)
        if value is not None and (
            not isinstance(value, list)
            or not set(value) <= {"authorization_code", "refresh_token", "code"}
        ):
            raise invalid_client_metadata(
                "only the authorization_code and refresh_token grants exist"
            )
    metadata: dict[str, str] = {}
    for key in _TEXT_FIELDS[1:]:
        value = body.get(key)
        if value is not None:
            if not isinstance(value, str) or len(value) > 200:
                raise invalid_client_metadata(f"{key} must be a string of at most 200 characters")
            metadata[key] = value
    for key in _URL_FIELDS:
        value = body.get(key)
        if value is not None:
            if not isinstance(value, str) or not value.startswith("https://") or len(value) > 2000:
                raise invalid_client_metadata(f"{key} must be an https URL")
            metadata[key] = value
    return redirect_uris, name.strip(), method, metadata


class ClientRegistry:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    async def register(self, instance: Instance, body: Any) -> tuple[OAuthClient, JSONDoc]:
        """The new client and the RFC 7591 answer (with its secrets, shown only here)."""
        redirect_uris, name, method, metadata = parse_registration(body)
        await self._make_room(instance)
        secret = None if method == PUBLIC_METHOD else secrets.token_urlsafe(32)
        registration_token = secrets.token_urlsafe(32)
        client = OAuthClient(
            id=secrets.token_hex(16),
            redirect_uris=redirect_uris,
            client_name=name,
            token_endpoint_auth_method=method,
            created_at=datetime.now(UTC).isoformat(),
            secret_hash=hash_secret(secret) if secret else None,
            registration_token_hash=hash_secret(registration_token),
            metadata=metadata,
        )
        await self.save(instance, client)
        answer = {
            **client.public_view(),
            "registration_access_token": registration_token,
            "client_secret_expires_at": 0,
        }
        if secret:
            answer["client_secret"] = secret
        return client, answer

    async def get(self, instance: Instance, client_id: str) -> OAuthClient | None:
        if not client_id or len(client_id) > 100 or client_id.startswith("_"):
            return None
        doc = await self.couch.get_doc_or_none(instance.db(CLIENTS_DOCTYPE), client_id)
        return OAuthClient.from_doc(doc) if doc else None

    async def list(self, instance: Instance) -> list[OAuthClient]:
        result = await self.couch.all_docs(
            instance.db(CLIENTS_DOCTYPE), params={"include_docs": True}
        )
        return [
            OAuthClient.from_doc(row["doc"])
            for row in result.get("rows", [])
            if isinstance(row.get("doc"), dict) and not row["id"].startswith("_")
        ]

    async def save(self, instance: Instance, client: OAuthClient) -> None:
        doc = client.to_doc()
        client.rev = await self.couch.put_doc(instance.db(CLIENTS_DOCTYPE), doc)

    async def delete(self, instance: Instance, client: OAuthClient) -> None:
        db = instance.db(CLIENTS_DOCTYPE)
        current = await self.couch.get_doc_or_none(db, client.id)
        if current is None:
            raise NotFound("no such OAuth client")
        try:
            await self.couch.delete_doc(db, client.id, current["_rev"])
        except (Conflict, NotFound):
            # Revoked concurrently: it is gone either way.
            pass

    async def _make_room(self, instance: Instance) -> None:
        clients = await self.list(instance)
        now = datetime.now(UTC)
        for client in list(clients):
            created = datetime.fromisoformat(client.created_at)
            if client.permission_id is None and now - created > UNAUTHORIZED_LIFETIME:
                await self.delete(instance, client)
                clients.remove(client)
        if len(clients) >= MAX_CLIENTS:
            raise OAuthError(
                "access_denied", f"this instance already has {MAX_CLIENTS} OAuth clients", 403
            )
