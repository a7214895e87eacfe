"""What a rule is matched against: a JSON document or a file/directory with its ancestry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

__all__ = [
    "ROOT_DIR_ID",
    "TRASH_DIR_ID",
    "DocumentTarget",
    "FileTarget",
    "Target",
    "stringify",
]

ROOT_DIR_ID: Final = "io.cozy.files.root-dir"
TRASH_DIR_ID: Final = "io.cozy.files.trash-dir"

REFERENCED_BY: Final = "referenced_by"


@runtime_checkable
class Target(Protocol):
    """Anything a rule can be matched against (cozy's `permission.Fetcher`)."""

    @property
    def id(self) -> str: ...

    def fetch(self, field: str) -> list[str]:
        """The string values of `field` on this target; [] when absent."""
        ...


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return None


def stringify(value: Any) -> list[str]:
    """A JSON value as the list of strings a selector compares with rule values.

    Booleans give "true"/"false", numbers `str()`, strings themselves, lists each scalar
    element; None, objects and nested containers give nothing.
    """
    if value is None:
        return []
    if isinstance(value, list | tuple):
        out: list[str] = []
        for element in value:
            text = _scalar(element)
            if text is not None:
                out.append(text)
        return out
    text = _scalar(value)
    return [] if text is None else [text]


def _references(entries: Any) -> list[str]:
    if not isinstance(entries, list | tuple):
        return []
    out: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        doctype = entry.get("type")
        ref_id = entry.get("id")
        if isinstance(doctype, str) and isinstance(ref_id, str) and doctype and ref_id:
            out.append(f"{doctype}/{ref_id}")
    return out


@dataclass(frozen=True)
class DocumentTarget:
    """A JSON document (as stored in CouchDB or posted by a client)."""

    doc: Mapping[str, Any]

    @property
    def id(self) -> str:
        value = self.doc.get("_id")
        return value if isinstance(value, str) else ""

    def fetch(self, field: str) -> list[str]:
        if field == REFERENCED_BY:
            refs = self.doc.get(REFERENCED_BY)
            if refs is None:
                relationships = self.doc.get("relationships")
                if isinstance(relationships, Mapping):
                    rel = relationships.get(REFERENCED_BY)
                    if isinstance(rel, Mapping):
                        refs = rel.get("data")
            return _references(refs)
        return stringify(self.doc.get(field))

    def __repr__(self) -> str:
        return f"DocumentTarget({json.dumps(self.doc, default=str)[:200]})"


@dataclass(frozen=True)
class FileTarget:
    """A file or directory, with its ancestry precomputed by the VFS so matching stays pure.

    `ancestors` runs parent first, up to and including the root directory. `referenced_by`
    holds "doctype/id" strings.
    """

    id: str
    dir_id: str | None
    type: str
    name: str
    mime: str = ""
    class_: str = ""
    tags: tuple[str, ...] = ()
    referenced_by: tuple[str, ...] = ()
    ancestors: tuple[FileTarget, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in ("file", "directory"):
            raise ValueError(f"a FileTarget type is 'file' or 'directory', not {self.type!r}")
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "referenced_by", tuple(self.referenced_by))
        object.__setattr__(self, "ancestors", tuple(self.ancestors))

    @property
    def is_dir(self) -> bool:
        return self.type == "directory"

    def fetch(self, field: str) -> list[str]:
        if field == "type":
            return [self.type]
        if field == "name":
            return [self.name]
        if field == "mime":
            return [self.mime] if self.mime else []
        if field == "class":
            return [self.class_] if self.class_ else []
        if field == "tags":
            return list(self.tags)
        if field == REFERENCED_BY:
            return list(self.referenced_by)
        return []

    def lineage_ids(self) -> list[str]:
        """The ids a no-selector rule value may name to cover this file: itself, its parent,
        the root, and every ancestor."""
        ids = [self.id]
        if self.dir_id:
            ids.append(self.dir_id)
        ids.append(ROOT_DIR_ID)
        ids.extend(ancestor.id for ancestor in self.ancestors)
        return ids
