"""`io.cozy.permissions` documents: what each token, app, app password or OAuth client may do.

A token points to one of these documents by id (`pid` claim). Deleting the document
revokes every token that points to it. Reads are cached for at most `cache_ttl_seconds`,
so a revocation takes effect on every stack process within seconds.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from roost.couch import CouchClient
from roost.errors import NotFound
from roost.instances import Instance
from roost.permissions import PermissionSet

PERMISSIONS_DOCTYPE = "io.cozy.permissions"


class PermissionDocs:
    def __init__(self, couch: CouchClient, cache_ttl_seconds: float) -> None:
        self.couch = couch
        self.cache_ttl_seconds = cache_ttl_seconds
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any] | None]] = {}
        # Each cache entry's parsed set, valid while that very entry is the cached one
        # (every write or re-read stores a new entry): parsing it on each request was a
        # measurable part of a `/data` read's CPU.
        self._sets: dict[tuple[str, str], tuple[object, PermissionSet]] = {}

    async def create(
        self,
        instance: Instance,
        kind: str,
        permissions: PermissionSet,
        *,
        source_id: str | None = None,
        doc_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a permission set of `kind` (cli, app, konnector, oauth, app-password, share)."""
        doc: dict[str, Any] = {
            "_id": doc_id or secrets.token_hex(16),
            "type": kind,
            "source_id": source_id,
            "permissions": permissions.to_json(),
            "created_at": datetime.now(UTC).isoformat(),
            **(extra or {}),
        }
        await self.couch.put_doc(instance.db(PERMISSIONS_DOCTYPE), doc)
        self._cache[(instance.domain, doc["_id"])] = (time.monotonic(), doc)
        return doc

    async def get(self, instance: Instance, permission_id: str) -> dict[str, Any] | None:
        key = (instance.domain, permission_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cache_ttl_seconds:
            return cached[1]
        doc = await self.couch.get_doc_or_none(instance.db(PERMISSIONS_DOCTYPE), permission_id)
        self._cache[key] = (now, doc)
        return doc

    async def load_set(self, instance: Instance, permission_id: str) -> PermissionSet | None:
        doc = await self.get(instance, permission_id)
        if doc is None:
            return None
        key = (instance.domain, permission_id)
        entry = self._cache.get(key)
        parsed = self._sets.get(key)
        if parsed is not None and entry is not None and parsed[0] is entry:
            return parsed[1]
        permissions = PermissionSet.from_json(doc["permissions"])
        if entry is not None and entry[1] is doc:
            self._sets[key] = (entry, permissions)
        return permissions

    async def update(self, instance: Instance, doc: dict[str, Any]) -> dict[str, Any]:
        await self.couch.put_doc(instance.db(PERMISSIONS_DOCTYPE), doc)
        self._cache[(instance.domain, doc["_id"])] = (time.monotonic(), doc)
        return doc

    async def delete(self, instance: Instance, permission_id: str) -> None:
        db = instance.db(PERMISSIONS_DOCTYPE)
        doc = await self.couch.get_doc_or_none(db, permission_id)
        if doc is None:
            raise NotFound("no such permission document")
        await self.couch.delete_doc(db, permission_id, doc["_rev"])
        self._cache[(instance.domain, permission_id)] = (time.monotonic(), None)

    async def find_by_source(self, instance: Instance, source_id: str) -> list[dict[str, Any]]:
        result = await self.couch.find(
            instance.db(PERMISSIONS_DOCTYPE),
            {"selector": {"source_id": source_id}, "limit": 1000},
        )
        docs: list[dict[str, Any]] = result.get("docs", [])
        return docs

    async def list(self, instance: Instance, kind: str | None = None) -> list[dict[str, Any]]:
        result = await self.couch.all_docs(
            instance.db(PERMISSIONS_DOCTYPE), params={"include_docs": True}
        )
        docs = [
            row["doc"] for row in result["rows"] if row.get("doc") and not row["id"].startswith("_")
        ]
        return [doc for doc in docs if kind is None or doc.get("type") == kind]
