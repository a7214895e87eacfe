"""`FileDoc`: one `io.cozy.files` document (file or directory) in Cozy's shape.

Stored fields (Cozy's, plus Roost's `sha256` and `dav_properties`):

    _id, _rev, type ("file" | "directory"), name, dir_id, path (directories only),
    created_at, updated_at, tags, referenced_by, cozyMetadata,
    files only: size (a decimal string, as Cozy stores it), md5sum (base64),
    sha256 (hex), mime, class, executable, trashed, internal_vfs_id (names the bytes),
    trashed items: restore_path, dav_properties ({"{ns}local": "<xml/>"}, WebDAV dead props).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from roost.permissions import ROOT_DIR_ID, TRASH_DIR_ID
from roost.types import JSONDoc
from roost.vfs.errors import InvalidName

VERSIONS_DOCTYPE = "io.cozy.files.versions"
TRASH_DIR_NAME = ".cozy_trash"
TRASH_DIR_PATH = "/" + TRASH_DIR_NAME


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def checked_time(value: str | None) -> str | None:
    """`value` when it is an ISO 8601 date (or None); InvalidName otherwise."""
    if value is None:
        return None
    if parse_time(value) is None:
        raise InvalidName(f"invalid date {value!r}: use ISO 8601")
    return value


class _ContentFields:
    """Size and checksums, as a file and each of its versions store them (size as a string,
    the way Cozy does)."""

    doc: JSONDoc

    @property
    def size(self) -> int:
        try:
            return int(self.doc.get("size") or 0)
        except (TypeError, ValueError):
            return 0

    @property
    def md5sum(self) -> str | None:
        value = self.doc.get("md5sum")
        return str(value) if value else None

    @property
    def sha256(self) -> str | None:
        value = self.doc.get("sha256")
        return str(value) if value else None


@dataclass(frozen=True)
class FileDoc(_ContentFields):
    """A read-only view over a stored document; `doc` is the raw JSON (do not mutate it).

    `stamp`: for a directory read with its subtree stamp (`roost.vfs.stamps`), that stamp's
    revision, which changes whenever anything below the directory changes.
    """

    doc: JSONDoc
    stamp: str | None = None
    # For a directory checked where it stands by the request holding this copy
    # (`Tree.confirm_place`): when (time.monotonic()) that check's store read started.
    confirmed_at: float | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        return str(self.doc["_id"])

    @property
    def rev(self) -> str:
        return str(self.doc.get("_rev", ""))

    @property
    def type(self) -> str:
        return str(self.doc["type"])

    @property
    def is_dir(self) -> bool:
        return bool(self.doc["type"] == "directory")

    @property
    def is_file(self) -> bool:
        return bool(self.doc["type"] == "file")

    @property
    def is_root(self) -> bool:
        return self.id == ROOT_DIR_ID

    @property
    def is_trash_dir(self) -> bool:
        return self.id == TRASH_DIR_ID

    @property
    def name(self) -> str:
        return str(self.doc.get("name", ""))

    @property
    def dir_id(self) -> str | None:
        value = self.doc.get("dir_id")
        return str(value) if value else None

    @property
    def path(self) -> str | None:
        """A directory's absolute path (`/Photos/2024`); None for files (see VFS.path_of)."""
        value = self.doc.get("path")
        return str(value) if value is not None else None

    @property
    def mime(self) -> str:
        return str(self.doc.get("mime") or "")

    @property
    def class_(self) -> str:
        return str(self.doc.get("class") or "")

    @property
    def internal_id(self) -> str | None:
        value = self.doc.get("internal_vfs_id")
        return str(value) if value else None

    @property
    def created_at(self) -> str:
        return str(self.doc.get("created_at") or "")

    @property
    def updated_at(self) -> str:
        return str(self.doc.get("updated_at") or "")

    @property
    def updated_datetime(self) -> datetime:
        return parse_time(self.updated_at) or datetime.fromtimestamp(0, UTC)

    @property
    def created_datetime(self) -> datetime:
        return parse_time(self.created_at) or self.updated_datetime

    @property
    def trashed(self) -> bool:
        return bool(self.doc.get("trashed"))

    @property
    def restore_path(self) -> str | None:
        value = self.doc.get("restore_path")
        return str(value) if value else None

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(str(tag) for tag in self.doc.get("tags") or ())

    @property
    def referenced_by(self) -> tuple[str, ...]:
        """`doctype/id` strings, the form permission selectors compare with."""
        out: list[str] = []
        for entry in self.doc.get("referenced_by") or ():
            if isinstance(entry, Mapping) and entry.get("type") and entry.get("id"):
                out.append(f"{entry['type']}/{entry['id']}")
        return tuple(out)

    @property
    def dav_properties(self) -> dict[str, str]:
        value = self.doc.get("dav_properties")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def in_trash(self) -> bool:
        """Trashed itself, or below the trash directory."""
        if self.trashed or self.dir_id == TRASH_DIR_ID or self.is_trash_dir:
            return True
        path = self.path
        return path is not None and path.startswith(TRASH_DIR_PATH + "/")

    @property
    def etag(self) -> str:
        """A strong validator: the content checksum for files; for directories the revision,
        and the subtree stamp when read with it (then it changes with anything below)."""
        if self.is_file and self.md5sum:
            return f'"{self.md5sum}"'
        if self.stamp:
            return f'"{self.rev}.{self.stamp}"'
        return f'"{self.rev}"'

    def __repr__(self) -> str:
        return f"FileDoc({self.type} {self.id} {self.name!r} in {self.dir_id})"


@dataclass(frozen=True)
class VersionDoc(_ContentFields):
    """One old content of a file (`io.cozy.files.versions`, id `{file_id}/{version_id}`)."""

    doc: JSONDoc

    @property
    def id(self) -> str:
        return str(self.doc["_id"])

    @property
    def file_id(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def version_id(self) -> str:
        return self.id.split("/", 1)[1]

    @property
    def updated_at(self) -> str:
        metadata = self.doc.get("cozyMetadata") or {}
        return str(metadata.get("updatedAt") or "")


def root_dir_doc() -> JSONDoc:
    moment = now_iso()
    return {
        "_id": ROOT_DIR_ID,
        "type": "directory",
        "name": "",
        "path": "/",
        "created_at": moment,
        "updated_at": moment,
        "tags": [],
        "cozyMetadata": {"metadataVersion": 1, "doctypeVersion": 1, "createdAt": moment},
    }


def trash_dir_doc() -> JSONDoc:
    moment = now_iso()
    return {
        "_id": TRASH_DIR_ID,
        "type": "directory",
        "name": TRASH_DIR_NAME,
        "dir_id": ROOT_DIR_ID,
        "path": TRASH_DIR_PATH,
        "created_at": moment,
        "updated_at": moment,
        "tags": [],
        "cozyMetadata": {"metadataVersion": 1, "doctypeVersion": 1, "createdAt": moment},
    }
