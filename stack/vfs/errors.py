"""What can go wrong in the VFS, named for what went wrong; no HTTP status here.

Each class refines one of the stack's kinds of failure (`roost.errors`), so a caller that
only cares about "missing" or "in conflict" catches the kind. The HTTP answer of each class
(status and error code) is decided once, at the edge, by `roost.web.error_table`; WebDAV
and `/files` tell the classes apart by type, never by parsing the reason.
"""

from __future__ import annotations

from roost.errors import (
    BadRequest,
    Conflict,
    InsufficientStorage,
    NotFound,
    PreconditionFailed,
    StoreUnavailable,
)


class FileNotFound(NotFound):
    """No file or directory with this id or path (or it is not visible)."""


class ParentMissing(Conflict):
    """The directory a file would be created or moved into does not exist."""


class NameTaken(Conflict):
    """A file or directory with the same name already exists in that directory."""

    def __init__(self, reason: str = "", *, existing_id: str | None = None) -> None:
        super().__init__(reason)
        self.existing_id = existing_id


class InvalidName(BadRequest):
    """A name or a date the VFS cannot store (empty, too long, `/`, not ISO 8601…)."""


class NotADirectory(Conflict):
    """An operation wanted a directory (a parent, a listing) and got a file."""


class IsADirectory(Conflict):
    """An operation wanted a file (content, versions) and got a directory."""


class InvalidMove(Conflict):
    """A directory moved into itself or its own subtree, or a fixed directory moved."""


class FixedDirectory(BadRequest):
    """The root and trash directories cannot be trashed."""


class NotInTrash(BadRequest):
    """Restore or destroy asked for something that is not (at the top of) the trash."""


class StaleRevision(PreconditionFailed):
    """`if_rev` did not match the current revision (an HTTP If-Match)."""


class WriteConflict(Conflict):
    """The document changed between our read and our write (the store refused the stale
    revision); `retry_on_conflict` re-reads and tries again."""


class ChecksumMismatch(PreconditionFailed):
    """The bytes received do not match the MD5 the client announced (Content-MD5)."""


class QuotaExceeded(InsufficientStorage):
    """Storing this would take the instance over its quota."""


class IncompleteUpload(BadRequest):
    """The body ended before the announced size (the client went away, or lied)."""


# kept for the webdav adapter; remove after merge
ParentNotFound = ParentMissing
NameConflict = NameTaken
RevisionMismatch = StaleRevision


class BlobMissing(FileNotFound):
    """A file document names bytes the blob store does not hold."""


class BlobStoreUnavailable(StoreUnavailable):
    """The blob store (an S3 endpoint) did not answer or failed; nothing was stored."""
