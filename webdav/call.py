"""One request being served: who asks, where, the ports, and what was already read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from starlette.requests import Request

from .errors import BadRequest, DavError
from .ifheader import IfList, parse_if_header
from .locks import Lock
from .paths import DavPath, parse_destination
from .ports import Caller, Entry, FileTree, LockStore, Targets

I = TypeVar("I")  # noqa: E741 - the stack's instance type, opaque here


@dataclass
class Call(Generic[I]):
    request: Request
    instance: I
    caller: Caller
    path: DavPath
    tree: FileTree[I]
    lock_store: LockStore[I]
    targets: Targets
    now: datetime  # one moment for every permission decision of the request
    max_xml_bytes: int
    if_checked: bool = False
    resolved: dict[tuple[str, ...], Entry | None] = field(default_factory=dict)
    _locks: list[Lock] | None = None
    _covered: dict[str, list[Lock]] = field(default_factory=dict)  # by VFS path
    _if_lists: list[IfList] | None = None
    _if_parsed: bool = False

    @property
    def method(self) -> str:
        return self.request.method.upper()

    def header(self, name: str, default: str = "") -> str:
        return self.request.headers.get(name, default)

    def if_lists(self) -> list[IfList] | None:
        if not self._if_parsed:
            header = self.request.headers.get("if")
            self._if_lists = parse_if_header(header) if header else None
            self._if_parsed = True
        return self._if_lists

    def destination(self, url: str) -> DavPath:
        """A URL of this tree on this host (a Destination, an If tag) as a path."""
        return parse_destination(
            url, self.header("host"), self.request.url.scheme, self.tree.normalize_name
        )

    async def resolve(self, path: DavPath, *, reading: bool = False) -> Entry | None:
        """The file or directory at `path` (None if missing, or hidden like the trash).

        `reading`: for a read that follows at once (GET, HEAD): the tree may answer from
        what it holds (see `Tree.child`); `resolve_again` asks the store."""
        key = path.segments
        if key in self.resolved:
            return self.resolved[key]
        if path.segments and path.segments[0] in self.tree.hidden_names:
            self.resolved[key] = None
            return None
        if not path.segments:
            found: Entry | None = await self.tree.root(self.instance)
        else:
            parent = await self.resolve(path.parent)
            found = None
            if parent is not None and parent.is_dir:
                found = await self.tree.child(self.instance, parent, path.name, reading=reading)
        if found is not None:
            self.targets.remember(found)
        self.resolved[key] = found
        return found

    async def resolve_again(self, path: DavPath) -> Entry | None:
        """`path` resolved anew from the store (what `resolve(reading=True)` gave proved stale)."""
        self.resolved.pop(path.segments, None)
        return await self.resolve(path)

    async def all_locks(self) -> list[Lock]:
        # Read from the store on every request (never from a per-process copy): a lock
        # taken through another stack process must hold here at once.
        if self._locks is None:
            self._locks = await self.lock_store.all(self.instance)
        return self._locks

    async def locks_on(self, paths: list[DavPath]) -> list[Lock]:
        """The live locks covering any of `paths`, read once per request like all_locks."""
        wanted = {path.vfs_path for path in paths}
        if self._locks is not None:
            return [lock for lock in self._locks if any(lock.covers(p) for p in wanted)]
        missing = sorted(wanted - self._covered.keys())
        if missing:
            found = await self.lock_store.covering(self.instance, missing)
            for vfs_path in missing:
                self._covered[vfs_path] = [lock for lock in found if lock.covers(vfs_path)]
        unique = {lock.token: lock for p in sorted(wanted) for lock in self._covered[p]}
        return list(unique.values())

    async def read_xml(self) -> bytes:
        declared = self.request.headers.get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_xml_bytes
            except ValueError:
                raise BadRequest("invalid Content-Length") from None
            if too_large:
                raise DavError(413, "the XML body is too large")
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > self.max_xml_bytes:
                raise DavError(413, "the XML body is too large")
            chunks.append(chunk)
        return b"".join(chunks)
