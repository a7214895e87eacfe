"""The JSON:API shape of `io.cozy.files` documents, as cozy-stack answers on `/files`.

Only documented attributes leave the server: the stored document may carry VFS internals
(hashes for WebDAV, dead properties, lock state) that are nobody's business on this API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

from roost.permissions import FILES_DOCTYPE
from roost.vfs.filedoc import VERSIONS_DOCTYPE

_FILE_ATTRIBUTES: Final = (
    "type",
    "name",
    "dir_id",
    "trashed",
    "md5sum",
    "created_at",
    "updated_at",
    "tags",
    "size",
    "executable",
    "class",
    "mime",
    "metadata",
    "restore_path",
    "path",
    "cozyMetadata",
)
_DIRECTORY_ATTRIBUTES: Final = (
    "type",
    "name",
    "dir_id",
    "path",
    "created_at",
    "updated_at",
    "tags",
    "restore_path",
    "cozyMetadata",
)
_VERSION_ATTRIBUTES: Final = ("md5sum", "size", "tags", "updated_at", "cozyMetadata")


def _size(value: Any) -> Any:
    # cozy-stack stores sizes as strings in CouchDB; clients expect a number here.
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _link(file_id: str) -> str:
    return f"/files/{quote(file_id, safe='')}"


def reference_identifiers(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """`referenced_by` as JSON:API resource identifiers `{"type", "id"}`."""
    out: list[dict[str, str]] = []
    for entry in doc.get("referenced_by") or []:
        if isinstance(entry, Mapping):
            doctype, ref_id = entry.get("type"), entry.get("id")
            if isinstance(doctype, str) and isinstance(ref_id, str):
                out.append({"type": doctype, "id": ref_id})
    return out


def file_object(
    doc: Mapping[str, Any],
    *,
    versions: Sequence[Mapping[str, Any]] | None = None,
    self_link: str | None = None,
    etag: str | None = None,
) -> dict[str, Any]:
    """One file or directory as a JSON:API resource object (`etag`: a directory's, which
    changes with its subtree, shown as `meta.etag`)."""
    file_id = str(doc["_id"])
    is_dir = doc.get("type") == "directory"
    names = _DIRECTORY_ATTRIBUTES if is_dir else _FILE_ATTRIBUTES
    attributes = {name: doc[name] for name in names if name in doc}
    if "size" in attributes:
        attributes["size"] = _size(attributes["size"])
    if not is_dir:
        attributes.setdefault("trashed", False)
        attributes.setdefault("tags", [])
    relationships: dict[str, Any] = {}
    parent_id = doc.get("dir_id")
    if isinstance(parent_id, str) and parent_id:
        relationships["parent"] = {
            "links": {"related": _link(parent_id)},
            "data": {"type": FILES_DOCTYPE, "id": parent_id},
        }
    references = reference_identifiers(doc)
    if references:
        relationships["referenced_by"] = {
            "links": {"self": f"{_link(file_id)}/relationships/referenced_by"},
            "data": references,
        }
    if versions is not None:
        relationships["old_versions"] = {
            "data": [{"type": VERSIONS_DOCTYPE, "id": str(v["_id"])} for v in versions]
        }
    out: dict[str, Any] = {
        "type": FILES_DOCTYPE,
        "id": file_id,
        "attributes": attributes,
        "meta": {"rev": doc.get("_rev")}
        if etag is None
        else {"rev": doc.get("_rev"), "etag": etag},
        "links": {"self": self_link or _link(file_id)},
    }
    if etag is not None:
        out["meta"]["etag"] = etag
    if relationships:
        out["relationships"] = relationships
    return out


def version_object(version: Mapping[str, Any]) -> dict[str, Any]:
    """An old version (`io.cozy.files.versions`, id `fileid/versionid`)."""
    attributes = {name: version[name] for name in _VERSION_ATTRIBUTES if name in version}
    if "size" in attributes:
        attributes["size"] = _size(attributes["size"])
    version_id = str(version["_id"])
    return {
        "type": VERSIONS_DOCTYPE,
        "id": version_id,
        "attributes": attributes,
        "meta": {"rev": version.get("_rev")},
        "links": {"self": f"/files/download/{quote(version_id, safe='/')}"},
    }


def document(
    data: Any,
    *,
    included: Iterable[Mapping[str, Any]] = (),
    links: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A top-level JSON:API document."""
    out: dict[str, Any] = {"data": data}
    included_list = list(included)
    if included_list:
        out["included"] = included_list
    if links:
        out["links"] = dict(links)
    if meta:
        out["meta"] = dict(meta)
    return out
