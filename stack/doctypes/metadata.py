"""`cozyMetadata` stamping, as Cozy apps expect it on every document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

METADATA_VERSION = 1


def stamp_metadata(
    doc: dict[str, Any],
    previous: dict[str, Any] | None,
    app_slug: str | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Set createdAt/createdByApp (kept from `previous`), updatedAt and updatedByApps."""
    moment = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    old = (previous or {}).get("cozyMetadata") or {}
    raw_given = doc.get("cozyMetadata")
    given: dict[str, Any] = raw_given if isinstance(raw_given, dict) else {}
    metadata: dict[str, Any] = {**given}
    metadata["metadataVersion"] = METADATA_VERSION
    metadata["doctypeVersion"] = given.get("doctypeVersion", old.get("doctypeVersion", 1))
    metadata["createdAt"] = old.get("createdAt", moment) if previous else moment
    creator = old.get("createdByApp") if previous else app_slug
    if creator:
        metadata["createdByApp"] = creator
    else:
        metadata.pop("createdByApp", None)
    metadata["updatedAt"] = moment
    updated_by = [entry for entry in old.get("updatedByApps", []) if isinstance(entry, dict)]
    if app_slug:
        updated_by = [entry for entry in updated_by if entry.get("slug") != app_slug]
        updated_by.append({"slug": app_slug, "date": moment})
    metadata["updatedByApps"] = updated_by
    doc["cozyMetadata"] = metadata
    return doc
