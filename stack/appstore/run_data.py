"""The data a run brought: documents created, changed and deleted, per doctype.

Counted from the run's host calls as the runtime aggregates them for the access log (one
entry per kind of call, ``count`` summed), so what Collect says a run brought is exactly
what the access log holds for it. Only calls that were allowed and succeeded count. Files
written through ``files.write`` count under ``io.cozy.files`` and keep the first few file ids
(to link to their folder).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from roost.apps.services import AccessEntry
from roost.permissions import FILES_DOCTYPE

__all__ = ["MAX_FILE_IDS", "data_brought", "total_brought"]

MAX_FILE_IDS: Final = 5
_DATA_FUNCTIONS: Final = {"create": "created", "update": "updated", "delete": "deleted"}


def _bucket(counts: dict[str, dict[str, Any]], doctype: str) -> dict[str, Any]:
    return counts.setdefault(doctype, {"created": 0, "updated": 0, "deleted": 0})


def data_brought(calls: Iterable[AccessEntry]) -> dict[str, dict[str, Any]]:
    """``{doctype: {"created", "updated", "deleted"[, "ids"]}}`` for the run's writes."""
    counts: dict[str, dict[str, Any]] = {}
    for entry in calls:
        if not entry.allowed or entry.error is not None:
            continue
        if entry.interface == "data" and entry.function in _DATA_FUNCTIONS and entry.doctype:
            _bucket(counts, entry.doctype)[_DATA_FUNCTIONS[entry.function]] += entry.count
        elif entry.interface == "files" and entry.function == "write":
            bucket = _bucket(counts, FILES_DOCTYPE)
            bucket["created" if entry.verb == "POST" else "updated"] += entry.count
            ids = list(bucket.get("ids", []))
            ids += [i for i in entry.ids if i and i not in ids]
            bucket["ids"] = ids[:MAX_FILE_IDS]
    return counts


def total_brought(counts: Mapping[str, Mapping[str, Any]], doctype: str) -> int:
    """Documents of ``doctype`` the run created or changed."""
    bucket = counts.get(doctype) or {}
    return int(bucket.get("created", 0)) + int(bucket.get("updated", 0))
