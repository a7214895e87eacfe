"""A change of one document, as the realtime protocol names it, built from a `_changes` row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from roost.types import JSONDoc

__all__ = ["Event", "event_from_change"]


@dataclass(frozen=True)
class Event:
    verb: str  # CREATED | UPDATED | DELETED
    doctype: str
    doc_id: str
    rev: str
    doc: JSONDoc = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.verb == "DELETED"

    def message(self, doc: JSONDoc | None = None) -> str:
        """The frame sent to a subscriber (cozy-stack's shape: no `old`, the rev in `doc`)."""
        body = self.doc if doc is None else doc
        return json.dumps(
            {
                "event": self.verb,
                "payload": {"type": self.doctype, "id": self.doc_id, "doc": body},
            },
            separators=(",", ":"),
        )


def event_from_change(doctype: str, row: Mapping[str, Any]) -> Event | None:
    """The event for one `_changes` row (`include_docs=true`), or None for what is no
    document of the doctype (design documents, rows without an id or a revision).

    A first revision is CREATED, a later one UPDATED, a tombstone DELETED. Trashing a file
    is an update (it moves into the trash with `trashed: true`), as in cozy-stack; only a
    destroyed file is DELETED.
    """
    doc_id = row.get("id")
    if not isinstance(doc_id, str) or not doc_id or doc_id.startswith("_design/"):
        return None
    changes = row.get("changes")
    rev = ""
    if isinstance(changes, list) and changes and isinstance(changes[0], Mapping):
        rev = str(changes[0].get("rev") or "")
    raw = row.get("doc")
    doc: JSONDoc = dict(raw) if isinstance(raw, Mapping) else {}
    rev = str(doc.get("_rev") or rev)
    if not rev:
        return None
    if row.get("deleted") or doc.get("_deleted"):
        return Event(
            "DELETED", doctype, doc_id, rev, {"_id": doc_id, "_rev": rev, "_deleted": True}
        )
    verb = "CREATED" if rev.startswith("1-") else "UPDATED"
    doc.setdefault("_id", doc_id)
    doc.setdefault("_type", doctype)
    return Event(verb, doctype, doc_id, rev, doc)
