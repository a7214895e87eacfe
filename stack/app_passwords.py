"""Scoped app passwords for WebDAV and desktop clients.

The secret (`roost-ap-{id}-{random}`) is shown once. Only its SHA-256 is stored: the
secret carries 256 random bits, so a fast hash is as safe as argon2 here and costs
nothing on every WebDAV request. Each password has its own `io.cozy.permissions`
document (kind `app-password`), which must be a subset of full access.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from roost.couch import CouchClient
from roost.errors import NotFound, RoostError
from roost.instances import Instance
from roost.permission_docs import PermissionDocs
from roost.permissions import PermissionSet

log = logging.getLogger("roost.app_passwords")

APP_PASSWORDS_DOCTYPE = "io.roost.app_passwords"
SECRET_PREFIX = "roost-ap-"  # noqa: S105 - a format marker, not a secret
# Write `last_used_at` at most this often, not on every request.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


@dataclass(frozen=True)
class AppPassword:
    id: str
    label: str
    permission_id: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    scope: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _to_model(doc: dict[str, Any]) -> AppPassword:
    return AppPassword(
        id=doc["_id"],
        label=doc["label"],
        permission_id=doc["permission_id"],
        created_at=doc["created_at"],
        expires_at=doc.get("expires_at"),
        last_used_at=doc.get("last_used_at"),
        scope=doc.get("scope", ""),
    )


class AppPasswords:
    def __init__(
        self, couch: CouchClient, permission_docs: PermissionDocs, cache_ttl: float
    ) -> None:
        self.couch = couch
        self.permission_docs = permission_docs
        self.cache_ttl = cache_ttl
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}

    async def create(
        self,
        instance: Instance,
        label: str,
        permissions: PermissionSet,
        *,
        ttl: timedelta | None = None,
    ) -> tuple[AppPassword, str]:
        """Store a new password; returns it with its secret, which is never shown again."""
        password_id = secrets.token_hex(8)
        secret = f"{SECRET_PREFIX}{password_id}-{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        expires_at = now + ttl if ttl else None
        if expires_at is not None:
            permissions = PermissionSet(
                rules=permissions.rules,
                egress=permissions.egress,
                budget=permissions.budget,
                expires_at=expires_at,
            )
        permission_doc = await self.permission_docs.create(
            instance,
            "app-password",
            permissions,
            source_id=f"{APP_PASSWORDS_DOCTYPE}/{password_id}",
        )
        doc: dict[str, Any] = {
            "_id": password_id,
            "label": label,
            "permission_id": permission_doc["_id"],
            "secret_sha256": _digest(secret),
            "created_at": now.isoformat(),
            "expires_at": expires_at.isoformat() if expires_at else None,
            "last_used_at": None,
            "scope": permissions.to_inline(),
        }
        await self.couch.put_doc(instance.db(APP_PASSWORDS_DOCTYPE), doc)
        return _to_model(doc), secret

    async def list(self, instance: Instance) -> list[AppPassword]:
        result = await self.couch.all_docs(
            instance.db(APP_PASSWORDS_DOCTYPE), params={"include_docs": True}
        )
        return [_to_model(row["doc"]) for row in result["rows"] if row.get("doc")]

    async def revoke(self, instance: Instance, password_id: str) -> None:
        db = instance.db(APP_PASSWORDS_DOCTYPE)
        doc = await self.couch.get_doc_or_none(db, password_id)
        if doc is None:
            raise NotFound(f"no app password {password_id}")
        try:
            await self.permission_docs.delete(instance, doc["permission_id"])
        except NotFound:
            pass
        await self.couch.delete_doc(db, password_id, doc["_rev"])
        self._cache[(instance.domain, password_id)] = (time.monotonic(), None)

    async def verify(self, instance: Instance, secret: str) -> AppPassword | None:
        """The password this secret opens, or None (unknown, wrong, revoked or expired)."""
        if not secret.startswith(SECRET_PREFIX):
            return None
        password_id = secret[len(SECRET_PREFIX) :].split("-", 1)[0]
        if not password_id or len(password_id) > 32:
            return None
        doc = await self._load(instance, password_id)
        if doc is None or not hmac.compare_digest(doc["secret_sha256"], _digest(secret)):
            return None
        now = datetime.now(UTC)
        if doc.get("expires_at") and datetime.fromisoformat(doc["expires_at"]) <= now:
            return None
        last_used = doc.get("last_used_at")
        if last_used is None or now - datetime.fromisoformat(last_used) > _LAST_USED_GRANULARITY:
            doc = dict(doc, last_used_at=now.isoformat())
            try:
                await self.couch.put_doc(instance.db(APP_PASSWORDS_DOCTYPE), doc)
                self._cache[(instance.domain, password_id)] = (time.monotonic(), doc)
            except RoostError:
                # Bookkeeping (a concurrent update, the store hiccuping) never fails a request.
                log.debug("could not record last use of app password %s", password_id)
        return _to_model(doc)

    async def _load(self, instance: Instance, password_id: str) -> dict[str, Any] | None:
        key = (instance.domain, password_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cache_ttl:
            return cached[1]
        doc = await self.couch.get_doc_or_none(instance.db(APP_PASSWORDS_DOCTYPE), password_id)
        self._cache[key] = (now, doc)
        return doc
