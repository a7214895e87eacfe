"""What the WebDAV server needs from the rest of the stack, declared here as ports.

`roost.webdav` imports nothing of Roost but `roost.permissions`: the stack hands the server
a `FileTree` (the files of an instance), a `LockStore` (where locks live, shared by every
stack process) and an `Authenticator` (who is calling), built by the composition root.
Each port is generic in the stack's instance type `I`, which the server never looks into.

A port reports failure with the `TreeError` classes below; `roost.webdav.errors` maps them
to statuses in one table.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from roost.permissions import FileTarget, PermissionSet

from .locks import Lock

I_contra = TypeVar("I_contra", contravariant=True)

# -- value types ----------------------------------------------------------------------------


class Entry(NamedTuple):
    """A file or directory as WebDAV shows it.

    `source` is the tree's own record of it, handed back untouched when the server asks the
    tree to act on this entry. A named tuple: a listing builds thousands of them, and a
    tuple is the cheapest immutable value to build.
    """

    name: str
    is_dir: bool
    etag: str  # a strong validator, quoted
    updated_at: str  # ISO 8601, "" when unknown
    created_at: str  # ISO 8601, "" when unknown
    size: int
    mime: str
    md5sum: str | None  # base64 of the MD5 digest
    dav_properties: Mapping[str, str]  # dead properties: Clark name → serialized element
    source: object


class BlobStream(Protocol):
    """A file's bytes opened in an object store: ranges of them, read as a stream."""

    size: int

    def read(self, start: int, length: int) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Blob:
    """Where to read a file's bytes: a local file that never changes once written (`path`),
    or, when the bytes are in an object store, a stream opened on them (`stream`)."""

    path: Path | None
    mime: str
    stream: BlobStream | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Bytes used by the instance and bytes it may still store (quota or free disk)."""

    used: int
    available: int | None  # None: no quota and no disk of its own (an object store)


class Upload(Protocol):
    """Bytes received and checked, waiting to become a file's content."""

    async def discard(self) -> None:
        """Drop the bytes unless the tree has already taken them."""


class Caller(Protocol):
    """Who makes the request: a label naming them in locks and logs, and their rights."""

    @property
    def label(self) -> str: ...

    @property
    def permissions(self) -> PermissionSet: ...


# -- errors ---------------------------------------------------------------------------------


class TreeError(Exception):
    """A port could not do what was asked; `reason` is a sentence safe to show."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(TreeError):
    """No such file or directory (or its content is gone)."""


class Conflict(TreeError):
    """The tree's state forbids it (not a directory, a move into itself, a missing parent)."""


class NameTaken(Conflict):
    """Something of that name appeared in the directory meanwhile."""


class Refused(TreeError):
    """Refused whoever asks (a rule of the tree, not a permission)."""


class InvalidInput(TreeError):
    """A name, a time or a body the tree refuses (bad name, upload shorter than announced)."""


class PreconditionFailed(TreeError):
    """What was announced with the request (a checksum, a revision) does not match."""


class TooLarge(TreeError):
    """A body over the size the tree accepts."""


class OutOfSpace(TreeError):
    """Storing this would go over the quota or the disk."""


class Unavailable(TreeError):
    """The store did not answer."""


class Unauthenticated(TreeError):
    """Credentials were sent and they are wrong, revoked or expired."""


class LockConflict(TreeError):
    """A lock that cannot be shared with the one asked for already holds the resource."""


# -- ports ----------------------------------------------------------------------------------


class Targets(Protocol):
    """Permission targets (with ancestry) for the entries one request touches."""

    def remember(self, entry: Entry) -> None:
        """Keep an entry just read, so the targets below it need no lookup."""

    async def for_entry(self, entry: Entry) -> FileTarget: ...

    async def for_child(self, parent: Entry, child: Entry) -> FileTarget: ...

    async def for_new(
        self, parent: Entry, name: str, *, is_dir: bool, mime: str = ""
    ) -> FileTarget: ...


class FileTree(Protocol[I_contra]):
    """The files of an instance, as the server reads and changes them."""

    hidden_names: frozenset[str]
    """Top-level names that are not part of the tree seen through WebDAV (the trash)."""

    def normalize_name(self, name: str) -> str:
        """The canonical form of a valid name; `InvalidInput` otherwise."""

    def targets(self, instance: I_contra) -> Targets: ...

    async def root(self, instance: I_contra) -> Entry: ...

    async def child(
        self, instance: I_contra, parent: Entry, name: str, *, reading: bool = False
    ) -> Entry | None:
        """The member called `name`, or None. `reading`: for a read that follows at once
        (GET, HEAD), which the tree may answer from what it holds of the parent."""

    async def confirm(self, instance: I_contra, directory: Entry) -> Entry:
        """The directory, as fit as the tree can cheaply make it for a write into it that
        follows at once (a creation then reads no more of it)."""

    async def list_dir(self, instance: I_contra, directory: Entry) -> list[Entry]:
        """The members of a directory, without the hidden names."""

    async def with_subtree_etags(self, instance: I_contra, entries: list[Entry]) -> list[Entry]:
        """The same entries, each directory's ETag one that changes whenever anything in
        its subtree changes (what sync clients compare to skip unchanged folders)."""

    async def open(self, instance: I_contra, file: Entry) -> Blob: ...

    async def stage(
        self, instance: I_contra, chunks: AsyncIterable[bytes], *, size: int | None
    ) -> Upload:
        """Receive a body (refusing it early when it cannot fit)."""

    async def create_file(
        self,
        instance: I_contra,
        parent: Entry,
        name: str,
        upload: Upload,
        *,
        declared_type: str | None,
        updated_at: str | None,
    ) -> Entry:
        """A new file holding `upload`; `NameTaken` if the name is taken meanwhile."""

    async def overwrite_file(
        self,
        instance: I_contra,
        file: Entry,
        upload: Upload,
        *,
        declared_type: str | None,
        updated_at: str | None,
    ) -> Entry: ...

    async def create_empty_file(self, instance: I_contra, parent: Entry, name: str) -> Entry: ...

    async def create_dir(
        self,
        instance: I_contra,
        parent: Entry,
        name: str,
        *,
        created_at: str | None = None,
        updated_at: str | None = None,
    ) -> Entry: ...

    async def trash(self, instance: I_contra, entry: Entry) -> None: ...

    async def move(
        self, instance: I_contra, entry: Entry, parent: Entry, name: str, *, updated_at: str | None
    ) -> None: ...

    async def copy(self, instance: I_contra, entry: Entry, parent: Entry, name: str) -> None: ...

    async def set_dead_properties(
        self,
        instance: I_contra,
        entry: Entry,
        *,
        set_properties: Mapping[str, str],
        remove: list[str],
    ) -> Entry: ...

    async def set_updated_at(self, instance: I_contra, entry: Entry, updated_at: str) -> None: ...

    async def usage(self, instance: I_contra) -> Usage:
        """What the instance uses and may still store (free-space rule of the stack)."""


class LockStore(Protocol[I_contra]):
    """Where locks live; every stack process reads the same ones."""

    async def all(self, instance: I_contra) -> list[Lock]:
        """Every live lock of the instance."""

    async def covering(self, instance: I_contra, paths: list[str]) -> list[Lock]:
        """The live locks that cover any of `paths` (`Lock.covers`): what a request
        changing those paths must hold, found without reading every lock."""

    async def add(self, instance: I_contra, lock: Lock) -> Lock:
        """Store `lock` atomically with the other locks of the same path: `LockConflict` if
        one of those, live, cannot be shared with it (`Lock.conflicts_with`)."""

    async def refresh(self, instance: I_contra, lock: Lock, seconds: int) -> Lock: ...

    async def remove(self, instance: I_contra, lock: Lock) -> None: ...


class Authenticator(Protocol[I_contra]):
    async def authenticate(self, instance: I_contra, authorization: str | None) -> Caller | None:
        """Who sent these credentials; None if none were sent; `Unauthenticated` if bad."""
