"""Names for the shapes passed around the stack.

`JSONDoc` is any CouchDB document; `Doctype`, `DocId` and `Rev` name the strings that
identify one (a file's references are `(Doctype, DocId)` pairs, a write answers a `Rev`).
"""

from __future__ import annotations

from typing import Any, NewType

Doctype = NewType("Doctype", str)
DocId = NewType("DocId", str)
Rev = NewType("Rev", str)
JSONDoc = dict[str, Any]
