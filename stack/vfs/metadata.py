"""Metadata of files and directories: the fields a client may change (tags, dates,
favourite, executable, mime), references from other documents, and WebDAV dead properties.
Every change is applied to the current revision, re-read and re-applied when someone wrote
meanwhile, unless the caller pins a revision."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from roost.doctypes import stamp_metadata
from roost.errors import BadRequest
from roost.instances import Instance
from roost.types import DocId, Doctype, JSONDoc
from roost.vfs.documents import FileDocuments
from roost.vfs.errors import InvalidName, StaleRevision
from roost.vfs.filedoc import FileDoc, checked_time, parse_time
from roost.vfs.mime import mime_class
from roost.vfs.names import normalize_name
from roost.vfs.retry import retry_on_conflict

# Fields `update_fields` may change; name and dir_id go through `move`, content through
# `overwrite_file`, trash state through `trash`/`restore`.
UPDATABLE_FIELDS: Final = frozenset(
    {
        "tags",
        "updated_at",
        "created_at",
        "executable",
        "referenced_by",
        "cozyMetadata",
        "mime",
        "metadata",  # written by the thumbnail job (EXIF); no PATCH rule passes it
    }
)
MAX_TAGS: Final = 100
MAX_TAG_LENGTH: Final = 255

Reference = tuple[Doctype, DocId]  # a document that references a file


def valid_tags(tags: Any) -> list[str]:
    """A list of tags a file may carry (deduplicated, order kept), or BadRequest."""
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadRequest("tags must be a list of strings")
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"at most {MAX_TAGS} tags")
    for tag in tags:
        if not tag or len(tag) > MAX_TAG_LENGTH or any(ord(ch) < 32 for ch in tag):
            raise BadRequest(f"invalid tag {tag!r}")
    return list(dict.fromkeys(tags))


def valid_time(value: Any, name: str) -> str | None:
    """An ISO 8601 date given by a client for `name`, or BadRequest."""
    if value is None:
        return None
    if not isinstance(value, str) or parse_time(value) is None:
        raise BadRequest(f"{name} must be an ISO 8601 date, like 2024-05-06T07:08:09Z")
    return value


def metadata_changes(doc: FileDoc, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """The metadata a client asks to change on `doc` (not name, dir_id nor trash state),
    validated and ready for `update_fields`: cozy-stack's PATCH /files rules."""
    fields: dict[str, Any] = {}
    if "tags" in attributes:
        fields["tags"] = valid_tags(attributes["tags"])
    for key in ("created_at", "updated_at"):
        if key in attributes:
            if attributes[key] is None:
                raise BadRequest(f"{key} cannot be removed")
            fields[key] = valid_time(attributes[key], key)
    if "executable" in attributes:
        if not isinstance(attributes["executable"], bool):
            raise BadRequest("executable must be true or false")
        if doc.is_file:
            fields["executable"] = attributes["executable"]
    if "cozyMetadata" in attributes:
        given = attributes["cozyMetadata"]
        if not isinstance(given, dict) or set(given) - {"favorite"}:
            raise BadRequest("only cozyMetadata.favorite can be changed")
        if not isinstance(given.get("favorite", False), bool):
            raise BadRequest("cozyMetadata.favorite must be true or false")
        current = doc.doc.get("cozyMetadata")
        fields["cozyMetadata"] = {**(current if isinstance(current, dict) else {}), **given}
    if "type" in attributes and attributes["type"] != doc.type:
        raise BadRequest("the type of a file or directory cannot change")
    return fields


# What a client may send in a PATCH of a file or directory (cozy-stack's PATCH /files).
PATCHABLE: Final = frozenset(
    {
        "name",
        "dir_id",
        "tags",
        "created_at",
        "updated_at",
        "executable",
        "move_to_trash",
        "cozyMetadata",
        # Sent back by clients that echo the whole object; ignored when unchanged.
        "type",
        "path",
    }
)


@dataclass(frozen=True)
class FilePatch:
    """A PATCH of a file or directory, validated: to the trash, or a move and/or rename
    (`moving`) with metadata `fields` for `update_fields`."""

    to_trash: bool = False
    name: str | None = None
    dir_id: str | None = None
    moving: bool = False
    fields: dict[str, Any] = field(default_factory=dict)


def check_patchable(attributes: Mapping[str, Any]) -> None:
    """BadRequest when a PATCH names an attribute no PATCH may change."""
    unknown = set(attributes) - PATCHABLE
    if unknown:
        raise BadRequest(f"these attributes cannot be changed: {', '.join(sorted(unknown))}")


def file_patch(doc: FileDoc, attributes: Mapping[str, Any]) -> FilePatch:
    """Validate what a client asks to change on `doc` (BadRequest, InvalidName)."""
    check_patchable(attributes)
    if attributes.get("move_to_trash") is True:
        return FilePatch(to_trash=True)
    if "move_to_trash" in attributes and attributes["move_to_trash"] is not False:
        raise BadRequest("move_to_trash must be true or false")
    fields = metadata_changes(doc, attributes)
    name = attributes.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise BadRequest("name must be a string")
        name = normalize_name(name)
    dir_id = attributes.get("dir_id")
    if dir_id is not None and not isinstance(dir_id, str):
        raise BadRequest("dir_id must be a string")
    moving = (name is not None and name != doc.name) or (
        dir_id is not None and dir_id != doc.dir_id
    )
    return FilePatch(name=name, dir_id=dir_id, moving=moving, fields=fields)


def references_of(doc: FileDoc) -> list[Reference]:
    """The documents that reference a file, as (doctype, id) pairs in stored order."""
    out: list[Reference] = []
    for entry in doc.doc.get("referenced_by") or []:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            out.append((Doctype(str(entry["type"])), DocId(str(entry.get("id", "")))))
    return out


_FIND_BATCH: Final = 1000


class Metadata:
    def __init__(self, documents: FileDocuments) -> None:
        self.documents = documents

    async def referencing(self, instance: Instance, doctype: str, doc_id: str) -> list[FileDoc]:
        """Every file and directory that names the document in its `referenced_by`.

        Batches by `_id` because PouchDB Server has no `_find` bookmarks.
        """
        db = self.documents.files_db(instance)
        await self.documents.ensure(instance)
        found: list[FileDoc] = []
        last = ""
        while True:
            selector: dict[str, Any] = {
                "referenced_by": {"$elemMatch": {"type": doctype, "id": doc_id}},
                "_id": {"$gt": last},
            }
            result = await self.documents.couch.find(
                db, {"selector": selector, "limit": _FIND_BATCH, "sort": [{"_id": "asc"}]}
            )
            docs = [d for d in result.get("docs", []) if d.get("type") in ("file", "directory")]
            found += [FileDoc(d) for d in docs]
            if len(result.get("docs", [])) < _FIND_BATCH:
                return found
            last = str(result["docs"][-1]["_id"])

    async def update_fields(
        self,
        instance: Instance,
        doc: FileDoc,
        fields: Mapping[str, Any],
        *,
        if_rev: str | None = None,
        app_slug: str | None = None,
    ) -> FileDoc:
        """Change metadata (`UPDATABLE_FIELDS`: tags, dates, referenced_by, …), retrying on
        concurrent updates unless `if_rev` pins the revision."""
        unknown = set(fields) - UPDATABLE_FIELDS
        if unknown:
            raise InvalidName(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
        for key in ("updated_at", "created_at"):
            if key in fields:
                checked_time(fields[key])

        def change(raw: JSONDoc) -> None:
            raw.update(fields)
            if "mime" in fields and raw.get("type") == "file":
                raw["class"] = mime_class(str(fields["mime"]))

        return await self.update(instance, doc, change, if_rev=if_rev, app_slug=app_slug)

    async def change_references(
        self,
        instance: Instance,
        doc: FileDoc,
        *,
        add: Iterable[Reference] = (),
        remove: Iterable[Reference] = (),
        app_slug: str | None = None,
    ) -> FileDoc:
        """Add and remove references on one file, merged again into the current revision
        whenever someone wrote meanwhile (so concurrent additions from two albums are both
        kept); no write when `doc`, as the caller read it, already says so."""
        added, removed = list(add), set(remove)

        def merged(current: FileDoc) -> list[Reference]:
            before = references_of(current)
            after = [ref for ref in before if ref not in removed]
            return after + [ref for ref in added if ref not in after]

        async def write(current: FileDoc) -> FileDoc:
            after = merged(current)
            if after == references_of(current):
                return current
            raw = dict(current.doc)
            raw["referenced_by"] = [{"type": t, "id": i} for t, i in after]
            stamp_metadata(raw, current.doc, app_slug)
            await self.documents.save(instance, raw)
            return FileDoc(raw)

        async def reread() -> FileDoc:
            return await self.documents.get(instance, doc.id)

        return await retry_on_conflict(write, doc, reread, action="update")

    async def set_dav_properties(
        self,
        instance: Instance,
        doc: FileDoc,
        *,
        set_properties: Mapping[str, str],
        remove: Iterable[str] = (),
        if_rev: str | None = None,
    ) -> FileDoc:
        """Store or remove WebDAV dead properties (`{namespace}name` → XML text), atomically."""
        removed = list(remove)

        def change(raw: JSONDoc) -> None:
            properties = dict(raw.get("dav_properties") or {})
            properties.update(set_properties)
            for key in removed:
                properties.pop(key, None)
            if properties:
                raw["dav_properties"] = properties
            else:
                raw.pop("dav_properties", None)

        return await self.update(instance, doc, change, if_rev=if_rev, stamp=False)

    async def update(
        self,
        instance: Instance,
        doc: FileDoc,
        change: Callable[[JSONDoc], None],
        *,
        if_rev: str | None = None,
        app_slug: str | None = None,
        stamp: bool = True,
    ) -> FileDoc:
        """Apply `change` to the current revision of `doc` and save it."""

        async def write(current: FileDoc) -> FileDoc:
            if if_rev is not None and current.rev != if_rev:
                raise StaleRevision("the file has changed (its revision differs)")
            raw = dict(current.doc)
            change(raw)
            if stamp:
                stamp_metadata(raw, current.doc, app_slug)
            await self.documents.save(instance, raw)
            if doc.is_dir:
                self.documents.cache.forget_directories(instance)
            return FileDoc(raw)

        async def reread() -> FileDoc:
            return await self.documents.get(instance, doc.id)

        return await retry_on_conflict(write, doc, reread, action="update")
