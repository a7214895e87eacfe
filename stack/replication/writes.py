"""`_bulk_docs` from a device: every document checked on its own, allowed ones written.

Each document is refused or written independently, and refusals are answered the way
CouchDB answers a `validate_doc_update` refusal, `{"id", "error": "forbidden", "reason"}`:
PouchDB and the CouchDB replicator count those as write failures and carry on, where any
other per-document error would abort the whole replication.

Checks, per document (`old` is the server's current winning revision):
- design documents (server-side code) and `_local` documents (use `PUT _local/{id}`) are
  refused; so are unknown `_` members and malformed ids;
- live documents must satisfy the doctype's JSON Schema;
- permissions, through `roost.permissions.decide` at the time of the request: a new document
  (or one recreated over a deletion) needs POST on its new version; a change needs PUT on
  both the old and the new version; a deletion needs DELETE on the old version (DELETE on
  some documents of the doctype when there is no live old version: a tombstone carries no
  content).

With `new_edits: true` the write is an ordinary edit and gets `cozyMetadata` stamped like
any `/data` write. With `new_edits: false` (replication) revisions are stored exactly as
the device sent them: changing the body would give one revision id two contents, and the
device would never learn the server's version. Such documents carry whatever
`cozyMetadata` the device wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from roost.couch import CouchClient
from roost.doctypes import SchemaRegistry, stamp_metadata
from roost.errors import BadRequest, InvalidDocument
from roost.instances import Instance
from roost.permissions import (
    SOME_DOCUMENTS,
    Decision,
    DocumentTarget,
    PermissionSet,
    decide,
)
from roost.types import JSONDoc

MAX_ID_LENGTH = 512
# Members CouchDB gives a meaning to on a replicated write; any other `_` member is refused.
_ALLOWED_SPECIAL = {
    "_id",
    "_rev",
    "_revisions",
    "_deleted",
    "_attachments",
    "_conflicts",
    "_deleted_conflicts",
    "_revs_info",
    "_local_seq",
}
# Read-only members a client may echo back; never stored.
_DROPPED_SPECIAL = {"_conflicts", "_deleted_conflicts", "_revs_info", "_local_seq"}


@dataclass(frozen=True)
class BulkDocs:
    docs: list[Any]
    new_edits: bool

    @classmethod
    def parse(cls, body: Any) -> BulkDocs:
        if not isinstance(body, dict) or not isinstance(body.get("docs"), list):
            raise BadRequest('the body must be {"docs": [...]}')
        new_edits = body.get("new_edits", True)
        if not isinstance(new_edits, bool):
            raise BadRequest("new_edits must be true or false")
        if body.get("all_or_nothing"):
            raise BadRequest("all_or_nothing is not supported (CouchDB 2+ dropped it too)")
        return cls(docs=body["docs"], new_edits=new_edits)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refusal(doc_id: Any, reason: str) -> JSONDoc:
    return {
        "id": doc_id if isinstance(doc_id, str) else None,
        "error": "forbidden",
        "reason": reason,
    }


def _check_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_ID_LENGTH:
        raise _Refused("a document id is a non-empty string of at most 512 characters")
    if doc_id.startswith("_design/"):
        raise _Refused("design documents cannot be pushed: Roost runs no code from devices")
    if doc_id.startswith("_local/"):
        raise _Refused("write _local documents with PUT _local/{id}")
    if doc_id.startswith("_"):
        raise _Refused("document ids starting with '_' are reserved")
    if any(ord(ch) < 32 for ch in doc_id):
        raise _Refused("document ids may not contain control characters")
    return doc_id


class BulkWriter:
    def __init__(self, couch: CouchClient, schemas: SchemaRegistry) -> None:
        self.couch = couch
        self.schemas = schemas

    async def write(
        self,
        instance: Instance,
        doctype: str,
        permissions: PermissionSet,
        request: BulkDocs,
        *,
        app_slug: str | None,
    ) -> list[JSONDoc]:
        db = instance.db(doctype)
        now = datetime.now(UTC)
        answers: list[JSONDoc | None] = [None] * len(request.docs)
        prepared: list[tuple[int, JSONDoc]] = []
        for index, raw in enumerate(request.docs):
            try:
                prepared.append((index, self._shape(doctype, raw, request.new_edits)))
            except _Refused as refused:
                raw_id = raw.get("_id") if isinstance(raw, dict) else None
                answers[index] = _refusal(raw_id, refused.reason)
        needs_old = request.new_edits or not all(
            decide(permissions, verb, doctype, None, now=now).allowed
            for verb in ("POST", "PUT", "DELETE")
        )
        olds = await self._winners(db, [doc["_id"] for _, doc in prepared]) if needs_old else {}
        accepted: list[tuple[int, JSONDoc]] = []
        for index, doc in prepared:
            old = olds.get(doc["_id"])
            reason = _refusal_of(permissions, doctype, old, doc, now)
            if reason is not None:
                answers[index] = _refusal(doc["_id"], reason)
                continue
            if request.new_edits and not doc.get("_deleted"):
                content = {k: v for k, v in doc.items() if not k.startswith("_")}
                special = {k: v for k, v in doc.items() if k.startswith("_")}
                doc = {**special, **stamp_metadata(content, old, app_slug)}
            accepted.append((index, doc))
        if accepted:
            results = await self.couch.bulk_docs(
                db, [doc for _, doc in accepted], new_edits=request.new_edits
            )
            if request.new_edits:
                for (index, _), result in zip(accepted, results, strict=False):
                    answers[index] = result
            else:
                # CouchDB lists only failures when new_edits is false.
                extra = [r for r in results if r.get("error")]
                return [a for a in answers if a is not None] + extra
        return [a for a in answers if a is not None]

    def _shape(self, doctype: str, raw: Any, new_edits: bool) -> JSONDoc:
        """The document to store, or `_Refused`."""
        if not isinstance(raw, dict):
            raise _Refused("each document must be a JSON object")
        if "_id" not in raw and new_edits:
            raw = {"_id": uuid.uuid4().hex, **raw}
        _check_id(raw.get("_id"))
        unknown = sorted(k for k in raw if k.startswith("_") and k not in _ALLOWED_SPECIAL)
        if unknown:
            raise _Refused(f"unknown special members: {', '.join(unknown)}")
        doc = {k: v for k, v in raw.items() if k not in _DROPPED_SPECIAL}
        if not new_edits:
            if not isinstance(doc.get("_rev"), str) or "-" not in doc["_rev"]:
                raise _Refused("a replicated document needs its _rev")
            if "_revisions" in doc and not isinstance(doc["_revisions"], dict):
                raise _Refused("_revisions must be {start, ids}")
        else:
            # An ordinary edit: the server computes the new revision and its history.
            doc.pop("_revisions", None)
        if "_deleted" in doc and not isinstance(doc["_deleted"], bool):
            raise _Refused("_deleted must be true or false")
        if not doc.get("_deleted"):
            try:
                self.schemas.validate(
                    doctype, {k: v for k, v in doc.items() if not k.startswith("_")}
                )
            except InvalidDocument as invalid:
                raise _Refused(invalid.reason) from None
        return doc

    async def _winners(self, db: str, ids: list[str]) -> dict[str, JSONDoc | None]:
        """Each id's current winning revision (None when missing or deleted)."""
        if not ids:
            return {}
        result = await self.couch.all_docs(
            db, keys=list(dict.fromkeys(ids)), params={"include_docs": True}
        )
        winners: dict[str, JSONDoc | None] = {}
        for row in result.get("rows", []):
            doc = row.get("doc")
            deleted = isinstance(row.get("value"), Mapping) and row["value"].get("deleted")
            winners[str(row.get("key"))] = doc if isinstance(doc, dict) and not deleted else None
        return winners


def _refusal_of(
    permissions: PermissionSet, doctype: str, old: JSONDoc | None, new: JSONDoc, now: datetime
) -> str | None:
    """Why `decide` refuses this write, or None. A hidden document is refused like a denied
    one: a replicator must see a `forbidden` answer to carry on (see the module docstring)."""

    def ask(verb: str, target: JSONDoc | None) -> Decision:
        what = DocumentTarget(target) if target is not None else SOME_DOCUMENTS
        return decide(permissions, verb, doctype, what, now=now)

    if new.get("_deleted"):
        # With no live old version, a tombstone carries no content: DELETE on some documents.
        decisions = [ask("DELETE", old)]
    elif old is None:
        decisions = [ask("POST", new)]
    elif decide(permissions, "PUT", doctype, None, now=now).allowed:
        decisions = []
    else:
        decisions = [ask("PUT", old), ask("PUT", new)]
    for decision in decisions:
        if not decision.allowed:
            return decision.reason or f"no {decision.verb} permission on this {doctype} document"
    return None
