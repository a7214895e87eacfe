"""Job and trigger documents in CouchDB: reads, conditional writes, and "what is due".

Every write that decides who does something is conditional: a create fails with Conflict
when the id exists, an update fails with Conflict when `_rev` is stale. That is all the
coordination two stack processes on one CouchDB need.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from roost.couch import CouchClient, quote_db, raise_for_couch
from roost.errors import Conflict, NotFound, StoreUnavailable
from roost.instances import Instance

Doc = dict[str, Any]

# How long a database known to be missing is not asked again (another process may create it;
# this bounds how late we notice). Writes through this store clear it at once.
MISSING_DB_RECHECK_SECONDS = 5.0
_UPDATE_RETRIES = 20


class JobStore:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        self._indexed: set[str] = set()
        self._missing_until: dict[str, float] = {}

    async def get(self, instance: Instance, doctype: str, doc_id: str) -> Doc:
        if not doc_id or doc_id.startswith("_"):
            raise NotFound("missing")
        return await self.couch.get_doc(instance.db(doctype), doc_id)

    async def create(self, instance: Instance, doctype: str, doc: Doc) -> Doc:
        """Store a new document; Conflict when its id is taken."""
        assert "_rev" not in doc
        db = instance.db(doctype)
        await self.couch.put_doc(db, doc)
        self._missing_until.pop(db, None)
        return doc

    async def replace(
        self, instance: Instance, doctype: str, doc: Doc, *, exclusive: bool = False
    ) -> Doc:
        """Conditional update: Conflict unless `doc["_rev"]` is the current revision.
        `exclusive` (claims): on a cluster, a write short of its quorum counts only if no
        concurrent write competes with it (`CouchClient.put_doc`)."""
        await self.couch.put_doc(instance.db(doctype), doc, exclusive=exclusive)
        return doc

    async def delete(self, instance: Instance, doctype: str, doc_id: str, rev: str) -> None:
        await self.couch.delete_doc(instance.db(doctype), doc_id, rev)

    async def update(
        self,
        instance: Instance,
        doctype: str,
        doc_id: str,
        change: Callable[[Doc], bool],
    ) -> Doc | None:
        """Read, `change` in place, write back; on a conflict, again from a fresh read.

        `change` returns False to give up (the document is no longer in the expected state);
        then None is returned and nothing is written.
        """
        for _ in range(_UPDATE_RETRIES):
            doc = await self.get(instance, doctype, doc_id)
            if not change(doc):
                return None
            try:
                return await self.replace(instance, doctype, doc)
            except Conflict:
                continue
        raise Conflict(f"{doctype} {doc_id} keeps changing; gave up updating it")

    async def due(
        self,
        instance: Instance,
        doctype: str,
        field: str,
        now: str,
        *,
        also: Mapping[str, Any] | None = None,
        limit: int = 50,
    ) -> list[Doc]:
        """Documents whose `field` (a time string) is at or before `now`, earliest first."""
        db = instance.db(doctype)
        missing_until = self._missing_until.get(db)
        if missing_until is not None and time.monotonic() < missing_until:
            return []
        # The lower bound keeps documents without the field out: PouchDB's index holds
        # them as null, which sorts before every string.
        selector: dict[str, Any] = {field: {"$gt": "0", "$lte": now}}
        selector.update(also or {})
        response = await self.couch.request(
            "POST", f"/{quote_db(db)}/_find", json_body={"selector": selector, "limit": limit}
        )
        if response.status_code == 404:
            self._missing_until[db] = time.monotonic() + MISSING_DB_RECHECK_SECONDS
            self._indexed.discard(db)  # if it comes back (instance re-created), index it again
            return []
        raise_for_couch(response)
        try:
            result = response.json()
        except ValueError as error:
            raise StoreUnavailable("CouchDB answered with invalid JSON") from error
        self._missing_until.pop(db, None)
        if "warning" in result and db not in self._indexed:
            # A database this process has not indexed yet; the index is idempotent.
            await self.couch.create_index(
                db,
                {"index": {"fields": [field]}, "name": f"by-{field}", "ddoc": f"roost-{field}"},
            )
            self._indexed.add(db)
        docs = [doc for doc in result.get("docs", []) if isinstance(doc.get(field), str)]
        docs.sort(key=lambda doc: str(doc[field]))
        return docs

    async def find(
        self, instance: Instance, doctype: str, selector: Mapping[str, Any], limit: int
    ) -> list[Doc]:
        result = await self.couch.find(
            instance.db(doctype), {"selector": dict(selector), "limit": limit}
        )
        docs: list[Doc] = result.get("docs", [])
        return docs

    async def all(self, instance: Instance, doctype: str) -> list[Doc]:
        result = await self.couch.all_docs(instance.db(doctype), params={"include_docs": True})
        return [
            row["doc"]
            for row in result["rows"]
            if row.get("doc") and not str(row["id"]).startswith("_design/")
        ]
