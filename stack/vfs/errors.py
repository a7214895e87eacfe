"""Errors of the VFS: subclasses of the stack's domain errors, so the edge maps them once.

WebDAV and `/files` tell them apart by class (a missing parent is a 409 in RFC 4918, a
missing resource a 404), never by parsing the reason.
"""

from __future__ import annotations

from roost.errors import BadRequest, Conflict, InsufficientStorage, NotFound, PreconditionFailed


class FileNotFound(NotFound):
    """No file or directory with this id or path (or it is not visible)."""


class ParentNotFound(Conflict):
    """The directory a file would be created or moved into does not exist."""

    error = "parent_not_found"


class NameConflict(Conflict):
    """A file or directory with the same name already exists in that directory."""

    error = "name_conflict"

    def __init__(self, reason: str = "", *, existing_id: str | None = None) -> None:
        super().__init__(reason)
        self.existing_id = existing_id


class InvalidName(BadRequest):
    error = "invalid_name"


class NotADirectory(Conflict):
    """An operation wanted a directory (a parent, a listing) and got a file."""

    error = "not_a_directory"


class IsADirectory(Conflict):
    """An operation wanted a file (content, versions) and got a directory."""

    error = "is_a_directory"


class InvalidMove(Conflict):
    """A directory moved into itself or its own subtree, or a fixed directory moved."""

    error = "invalid_move"


class RevisionMismatch(PreconditionFailed):
    """`if_rev` did not match the current revision (an HTTP If-Match)."""


class ChecksumMismatch(PreconditionFailed):
    """The bytes received do not match the MD5 the client announced (Content-MD5)."""

    error = "checksum_mismatch"


class QuotaExceeded(InsufficientStorage):
    """Storing this would take the instance over its quota (507)."""

    error = "quota_exceeded"


class IncompleteUpload(BadRequest):
    """The body ended before the announced size (the client went away, or lied)."""

    error = "incomplete_upload"
