"""What an export holds and what it leaves out: one table, read by the exporter and importer.

Every database of the instance is exported (documents with their revision histories),
except the ones below, and with the redactions below: secrets never leave the instance.
"""

from __future__ import annotations

from typing import Any, Final

from roost.couch import database_name
from roost.vfs import FILES_DOCTYPE, NAMES_DOCTYPE, VERSIONS_DOCTYPE
from roost.vfs.stamps import STAMPS_DOCTYPE

# The database part of `{prefix}/{database}` for a doctype (`io.cozy.files` → `io-cozy-files`).
FILES_DATABASE: Final = database_name("", FILES_DOCTYPE)[1:]
VERSIONS_DATABASE: Final = database_name("", VERSIONS_DOCTYPE)[1:]
NAMES_DATABASE: Final = database_name("", NAMES_DOCTYPE)[1:]
STAMPS_DATABASE: Final = database_name("", STAMPS_DOCTYPE)[1:]

# Not exported, and refused on import. Why, for each:
EXCLUDED_DATABASES: Final = {
    # Name reservations are derived from the file documents; the import makes its own.
    NAMES_DATABASE: "rebuilt from the file documents",
    # Folder ETag stamps: changed by every write after the import anyway.
    STAMPS_DATABASE: "derived from the writes of this server",
    # Login sessions and OAuth codes are credentials of this server.
    "io-cozy-sessions": "credentials",
    "io-cozy-oauth-access_codes": "credentials",
    # OAuth clients hold their registration secrets; devices register again.
    "io-cozy-oauth-clients": "credentials",
    # The job queue: an imported queued job would run again on the other side.
    "io-cozy-jobs": "work queue of this server",
}

# Fields replaced in every exported revision of a database: the value stays a string, so
# code reading it keeps working, and never matches a secret.
REDACTED_FIELDS: Final[dict[str, dict[str, Any]]] = {
    # An app password's hash: the imported password is listed but opens nothing.
    "io-roost-app_passwords": {"secret_sha256": ""},
}


def redact(database: str, doc: dict[str, Any]) -> dict[str, Any]:
    for key, value in REDACTED_FIELDS.get(database, {}).items():
        if key in doc:
            doc[key] = value
    return doc


def blob_refs(database: str, doc: dict[str, Any]) -> tuple[str, str, int, str] | None:
    """`(file_id, internal_id, size, md5sum)` of the bytes a file or version document names."""
    internal_id = doc.get("internal_vfs_id")
    if not isinstance(internal_id, str) or not internal_id:
        return None
    if database == FILES_DATABASE and doc.get("type") == "file":
        file_id = str(doc["_id"])
    elif database == VERSIONS_DATABASE and "/" in str(doc["_id"]):
        file_id = str(doc["_id"]).split("/", 1)[0]
    else:
        return None
    try:
        size = int(doc.get("size") or 0)
    except (TypeError, ValueError):
        size = -1
    return file_id, internal_id, size, str(doc.get("md5sum") or "")
