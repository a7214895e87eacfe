"""The virtual file system: `io.cozy.files` documents in CouchDB, bytes on disk.

See `roost.vfs.service.VFS` (the facade callers use), `FileDoc` (a file or directory
document), `FileTargets` (permission targets with ancestry) and `roost.vfs.errors`.
"""

from roost.permissions import FILES_DOCTYPE
from roost.vfs.blob_store import FileContent, StagedContent
from roost.vfs.documents import NAMES_DOCTYPE
from roost.vfs.errors import (
    ChecksumMismatch,
    FileNotFound,
    FixedDirectory,
    IncompleteUpload,
    InvalidMove,
    InvalidName,
    IsADirectory,
    NameTaken,
    NotADirectory,
    NotInTrash,
    ParentMissing,
    QuotaExceeded,
    StaleRevision,
    WriteConflict,
)
from roost.vfs.filedoc import (
    TRASH_DIR_NAME,
    TRASH_DIR_PATH,
    VERSIONS_DOCTYPE,
    FileDoc,
    VersionDoc,
)
from roost.vfs.metadata import UPDATABLE_FIELDS
from roost.vfs.names import MAX_NAME_BYTES, join_path, normalize_name, split_path
from roost.vfs.service import VFS
from roost.vfs.targets import FileTargets
from roost.vfs.usage import DiskUsage

# kept for the webdav adapter; remove after merge
NameConflict = NameTaken
ParentNotFound = ParentMissing
RevisionMismatch = StaleRevision

__all__ = [
    "FILES_DOCTYPE",
    "MAX_NAME_BYTES",
    "NAMES_DOCTYPE",
    "TRASH_DIR_NAME",
    "TRASH_DIR_PATH",
    "UPDATABLE_FIELDS",
    "VERSIONS_DOCTYPE",
    "VFS",
    "ChecksumMismatch",
    "DiskUsage",
    "FileContent",
    "FileDoc",
    "FileNotFound",
    "FileTargets",
    "FixedDirectory",
    "IncompleteUpload",
    "InvalidMove",
    "InvalidName",
    "IsADirectory",
    "NameConflict",
    "NameTaken",
    "NotADirectory",
    "NotInTrash",
    "ParentMissing",
    "ParentNotFound",
    "QuotaExceeded",
    "RevisionMismatch",
    "StagedContent",
    "StaleRevision",
    "VersionDoc",
    "WriteConflict",
    "join_path",
    "normalize_name",
    "split_path",
]
