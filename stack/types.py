"""Names for the shapes passed around the stack."""

from __future__ import annotations

from typing import Any, NewType

Doctype = NewType("Doctype", str)
DocId = NewType("DocId", str)
Rev = NewType("Rev", str)
JSONDoc = dict[str, Any]
