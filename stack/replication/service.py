"""The CouchDB replication protocol over one instance's doctype databases.

No HTTP here: `roost.web.replication` parses requests, asks for the request-level
permission, and calls these methods; per-document decisions (what a restricted token sees,
what it may write) are taken here with `roost.permissions`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from roost.couch import CouchClient, quote_db
from roost.doctypes import SchemaRegistry
from roost.errors import NotFound, PreconditionFailed
from roost.instances import Instance
from roost.principals import Principal
from roost.replication.changes import ChangeFeed
from roost.replication.checkpoints import Checkpoints
from roost.replication.query import ChangesQuery
from roost.replication.revisions import Revisions
from roost.replication.scope import Scope
from roost.replication.watch import ChangeWatch
from roost.replication.writes import BulkDocs, BulkWriter
from roost.types import JSONDoc


class ReplicationService:
    def __init__(
        self, couch: CouchClient, schemas: SchemaRegistry, *, poll_interval: float = 1.0
    ) -> None:
        self.couch = couch
        self.watch = ChangeWatch(couch, poll_interval)
        self.feed = ChangeFeed(couch, self.watch)
        self.revisions = Revisions(couch)
        self.writer = BulkWriter(couch, schemas)
        self.checkpoints = Checkpoints(couch)

    @staticmethod
    def scope(principal: Principal, doctype: str) -> Scope:
        return Scope(principal.permissions, doctype, now=datetime.now(UTC))

    # -- the database ----------------------------------------------------------------------

    async def info(self, instance: Instance, principal: Principal, doctype: str) -> JSONDoc:
        """Database information. A doctype without a database yet looks empty (databases
        are created on first write), so a read-only replicator never needs to create one.
        Counts are shown to whole-doctype readers only: they would tell a restricted token
        how many documents it cannot see."""
        try:
            store: JSONDoc = await self.couch.json_request(
                "GET", f"/{quote_db(instance.db(doctype))}"
            )
        except NotFound:
            store = {}
        info: JSONDoc = {
            "db_name": doctype,
            "update_seq": store.get("update_seq", 0),
            "purge_seq": 0,
            "compact_running": False,
            "instance_start_time": "0",
            "disk_format_version": 8,
        }
        if self.scope(principal, doctype).whole:
            info["doc_count"] = store.get("doc_count", 0)
            info["doc_del_count"] = store.get("doc_del_count", 0)
        return info

    async def create(self, instance: Instance, doctype: str) -> None:
        """Create the database; `PreconditionFailed` if it exists, as CouchDB answers."""
        db = instance.db(doctype)
        if await self.couch.db_exists(db):
            raise PreconditionFailed("The database could not be created, the file already exists.")
        await self.couch.ensure_db(db)

    # -- reading ---------------------------------------------------------------------------

    def changes(
        self, instance: Instance, principal: Principal, doctype: str, query: ChangesQuery
    ) -> AsyncIterator[bytes]:
        return self.feed.stream(instance.db(doctype), self.scope(principal, doctype), query)

    async def revs_diff(
        self,
        instance: Instance,
        principal: Principal,
        doctype: str,
        wanted: Mapping[str, list[str]],
    ) -> JSONDoc:
        return await self.revisions.revs_diff(
            instance.db(doctype), self.scope(principal, doctype), wanted
        )

    async def bulk_get(
        self,
        instance: Instance,
        principal: Principal,
        doctype: str,
        docs: list[JSONDoc],
        *,
        revs: bool,
        latest: bool,
        attachments: bool,
    ) -> AsyncIterator[bytes]:
        db = instance.db(doctype)
        scope = self.scope(principal, doctype)
        if scope.whole:
            async for chunk in self.revisions.bulk_get_stream(
                db, docs, revs=revs, latest=latest, attachments=attachments
            ):
                yield chunk
            return
        yield await self.revisions.bulk_get(
            db, scope, docs, revs=revs, latest=latest, attachments=attachments
        )

    async def all_docs_by_keys(
        self,
        instance: Instance,
        principal: Principal,
        doctype: str,
        keys: list[str],
        *,
        include_docs: bool,
        conflicts: bool,
    ) -> JSONDoc:
        return await self.revisions.all_docs_by_keys(
            instance.db(doctype),
            self.scope(principal, doctype),
            keys,
            include_docs=include_docs,
            conflicts=conflicts,
        )

    async def open_revs(
        self,
        instance: Instance,
        principal: Principal,
        doctype: str,
        doc_id: str,
        wanted: str | list[str],
        *,
        revs: bool,
        latest: bool,
    ) -> list[JSONDoc]:
        return await self.revisions.open_revs(
            instance.db(doctype),
            self.scope(principal, doctype),
            doc_id,
            wanted,
            revs=revs,
            latest=latest,
        )

    async def attachment(
        self,
        instance: Instance,
        principal: Principal,
        doctype: str,
        doc_id: str,
        name: str,
        rev: str | None,
    ) -> tuple[str, AsyncIterator[bytes]]:
        return await self.revisions.attachment(
            instance.db(doctype), self.scope(principal, doctype), doc_id, name, rev
        )

    # -- writing ---------------------------------------------------------------------------

    async def bulk_docs(
        self, instance: Instance, principal: Principal, doctype: str, request: BulkDocs
    ) -> list[JSONDoc]:
        answers = await self.writer.write(
            instance, doctype, principal.permissions, request, app_slug=principal.app_slug
        )
        self.watch.notify(instance.db(doctype))
        return answers

    # -- checkpoints -----------------------------------------------------------------------

    async def get_local(
        self, instance: Instance, principal: Principal, doctype: str, local_id: str
    ) -> JSONDoc:
        return await self.checkpoints.get(instance.db(doctype), principal, local_id)

    async def put_local(
        self, instance: Instance, principal: Principal, doctype: str, local_id: str, body: Any
    ) -> JSONDoc:
        return await self.checkpoints.put(instance.db(doctype), principal, local_id, body)

    async def delete_local(
        self,
        instance: Instance,
        principal: Principal,
        doctype: str,
        local_id: str,
        rev: str | None,
    ) -> JSONDoc:
        return await self.checkpoints.delete(instance.db(doctype), principal, local_id, rev)
