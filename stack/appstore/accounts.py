"""Connector accounts (``io.cozy.accounts``) with their credentials encrypted per instance.

The credentials are sealed with AES-256-GCM under a key derived (HKDF-SHA256) from the
instance's own ``encryption_key``. The associated data binds a sealed blob to its instance,
account id and connector slug, so a blob copied elsewhere does not open. Plain credentials
exist only in memory, in the input of that connector's run.

`cryptography` is imported on first use (see `roost/lean_imports.py`).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from roost.couch import CouchClient
from roost.errors import BadRequest, Forbidden, NotFound
from roost.instances import Instance

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["ACCOUNTS_DOCTYPE", "AccountVault"]

ACCOUNTS_DOCTYPE = "io.cozy.accounts"
SCHEME = "v1"


def _cipher(instance: Instance) -> AESGCM:
    """AES-256-GCM under a key derived from the instance's own key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"roost-accounts",
        info=b"io.cozy.accounts credentials v1",
    ).derive(instance.encryption_key.encode())
    return AESGCM(key)


def _aad(instance: Instance, account_id: str, slug: str) -> bytes:
    return f"{instance.domain}\0{account_id}\0{slug}".encode()


class AccountVault:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch

    def seal(
        self, instance: Instance, account_id: str, slug: str, credentials: dict[str, Any]
    ) -> str:
        nonce = secrets.token_bytes(12)
        sealed = _cipher(instance).encrypt(
            nonce, json.dumps(credentials).encode(), _aad(instance, account_id, slug)
        )
        return f"{SCHEME}:" + base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, instance: Instance, account_id: str, slug: str, blob: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag

        scheme, _, payload = blob.partition(":")
        if scheme != SCHEME:
            raise BadRequest("unknown credentials encoding")
        raw = base64.b64decode(payload)
        try:
            plain = _cipher(instance).decrypt(raw[:12], raw[12:], _aad(instance, account_id, slug))
        except InvalidTag:
            raise Forbidden("these credentials do not belong to this connector") from None
        value: dict[str, Any] = json.loads(plain)
        return value

    async def create(
        self, instance: Instance, slug: str, credentials: dict[str, Any], *, label: str = ""
    ) -> dict[str, Any]:
        if not isinstance(credentials, dict) or not all(isinstance(k, str) for k in credentials):
            raise BadRequest("credentials must be a JSON object")
        account_id = secrets.token_hex(16)
        now = datetime.now(UTC).isoformat()
        doc: dict[str, Any] = {
            "_id": account_id,
            "account_type": slug,
            "label": label or slug,
            "auth_encrypted": self.seal(instance, account_id, slug, credentials),
            "auth_fields": sorted(credentials),
            "cozyMetadata": {"createdAt": now, "updatedAt": now, "createdByApp": "roost"},
        }
        await self.couch.put_doc(instance.db(ACCOUNTS_DOCTYPE), doc)
        return self.public(doc)

    @staticmethod
    def public(doc: dict[str, Any]) -> dict[str, Any]:
        """The account without its sealed credentials."""
        return {k: v for k, v in doc.items() if k != "auth_encrypted"}

    async def credentials(self, instance: Instance, account_id: str, slug: str) -> dict[str, Any]:
        doc = await self._own(instance, slug, account_id)
        return self.open(instance, account_id, slug, str(doc.get("auth_encrypted", "")))

    async def list(self, instance: Instance, slug: str) -> list[dict[str, Any]]:
        result = await self.couch.find(
            instance.db(ACCOUNTS_DOCTYPE), {"selector": {"account_type": slug}, "limit": 1000}
        )
        return [self.public(d) for d in result.get("docs", [])]

    async def _own(self, instance: Instance, slug: str, account_id: str) -> dict[str, Any]:
        doc = await self.couch.get_doc_or_none(instance.db(ACCOUNTS_DOCTYPE), account_id)
        if doc is None or doc.get("account_type") != slug:
            raise NotFound(f"no account {account_id} for {slug}")
        return doc

    async def get(self, instance: Instance, slug: str, account_id: str) -> dict[str, Any]:
        """The account (without its sealed credentials), or NotFound."""
        return self.public(await self._own(instance, slug, account_id))

    async def update(
        self,
        instance: Instance,
        slug: str,
        account_id: str,
        credentials: dict[str, Any],
        *,
        label: str = "",
    ) -> dict[str, Any]:
        """Replace the account's credentials (sealed again, with a fresh nonce) and label."""
        if not isinstance(credentials, dict) or not all(isinstance(k, str) for k in credentials):
            raise BadRequest("credentials must be a JSON object")
        doc = await self._own(instance, slug, account_id)
        now = datetime.now(UTC).isoformat()
        doc["label"] = label or doc.get("label") or slug
        doc["auth_encrypted"] = self.seal(instance, account_id, slug, credentials)
        doc["auth_fields"] = sorted(credentials)
        metadata = doc.get("cozyMetadata")
        doc["cozyMetadata"] = {**(metadata if isinstance(metadata, dict) else {}), "updatedAt": now}
        await self.couch.put_doc(instance.db(ACCOUNTS_DOCTYPE), doc)
        return self.public(doc)

    async def delete(self, instance: Instance, slug: str, account_id: str) -> None:
        doc = await self._own(instance, slug, account_id)
        await self.couch.delete_doc(instance.db(ACCOUNTS_DOCTYPE), account_id, doc["_rev"])

    async def delete_all(self, instance: Instance, slug: str) -> int:
        db = instance.db(ACCOUNTS_DOCTYPE)
        result = await self.couch.find(db, {"selector": {"account_type": slug}, "limit": 1000})
        docs = result.get("docs", [])
        for doc in docs:
            await self.couch.delete_doc(db, doc["_id"], doc["_rev"])
        return len(docs)
