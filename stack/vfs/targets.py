"""Permission targets for files: `roost.permissions.FileTarget` with its ancestry.

One `FileTargets` lives for one request: it caches the directories it has read, so a
lookup by path, the permission checks of a PROPFIND's 2,000 children and a move's two
parents fetch each directory at most once.
"""

from __future__ import annotations

from typing import Protocol

from roost.instances import Instance
from roost.permissions import FileTarget
from roost.vfs.filedoc import FileDoc


class Directories(Protocol):
    """Where targets read the directories they have not seen yet."""

    async def directory(self, instance: Instance, dir_id: str) -> FileDoc: ...


class FileTargets:
    def __init__(self, directories: Directories, instance: Instance) -> None:
        self.directories = directories
        self.instance = instance
        self._dirs: dict[str, FileDoc] = {}
        self._targets: dict[str, FileTarget] = {}

    def remember(self, doc: FileDoc) -> None:
        """Keep a directory just read or written (a newer revision replaces an older)."""
        if doc.is_dir:
            known = self._dirs.get(doc.id)
            self._dirs[doc.id] = doc
            if known is None or known.rev != doc.rev:
                self._targets.pop(doc.id, None)

    def forget(self, doc_id: str) -> None:
        self._dirs.pop(doc_id, None)
        self._targets.pop(doc_id, None)

    async def directory(self, dir_id: str) -> FileDoc:
        cached = self._dirs.get(dir_id)
        if cached is None:
            cached = await self.directories.directory(self.instance, dir_id)
            self.remember(cached)
        return cached

    async def _dir_target(self, dir_id: str) -> FileTarget:
        cached = self._targets.get(dir_id)
        if cached is not None:
            return cached
        # Walk up iteratively (no recursion limit on deep trees), then build top-down.
        chain: list[FileDoc] = []
        current: str | None = dir_id
        while current is not None and current not in self._targets:
            directory = await self.directory(current)
            chain.append(directory)
            current = directory.dir_id
        parent_target = self._targets.get(current) if current is not None else None
        for directory in reversed(chain):
            ancestors = () if parent_target is None else (parent_target, *parent_target.ancestors)
            parent_target = _target(directory, ancestors)
            self._targets[directory.id] = parent_target
        return self._targets[dir_id]

    async def for_doc(self, doc: FileDoc) -> FileTarget:
        """The target of an existing file or directory, ancestors parent-first to the root."""
        if doc.is_dir:
            self.remember(doc)
            return await self._dir_target(doc.id)
        if doc.dir_id is None:
            return _target(doc, ())
        parent = await self._dir_target(doc.dir_id)
        return _target(doc, (parent, *parent.ancestors))

    async def for_child(self, parent: FileDoc, child: FileDoc) -> FileTarget:
        """Like `for_doc` for an entry of a listing of `parent` (no lookup at all)."""
        parent_target = await self.for_doc(parent)
        if child.is_dir and child.id in self._targets:
            return self._targets[child.id]
        target = _target(child, (parent_target, *parent_target.ancestors))
        if child.is_dir:
            self._dirs[child.id] = child
            self._targets[child.id] = target
        return target

    async def for_new(
        self, parent: FileDoc, name: str, *, type: str = "file", mime: str = "", class_: str = ""
    ) -> FileTarget:
        """The target of something about to be created in `parent` (checked with POST)."""
        parent_target = await self.for_doc(parent)
        return FileTarget(
            id="",
            dir_id=parent.id,
            type=type,
            name=name,
            mime=mime,
            class_=class_,
            ancestors=(parent_target, *parent_target.ancestors),
        )


def _target(doc: FileDoc, ancestors: tuple[FileTarget, ...]) -> FileTarget:
    return FileTarget(
        id=doc.id,
        dir_id=doc.dir_id,
        type=doc.type,
        name=doc.name,
        mime=doc.mime,
        class_=doc.class_,
        tags=doc.tags,
        referenced_by=doc.referenced_by,
        ancestors=ancestors,
    )
