"""The virtual file system: `io.cozy.files` documents in CouchDB, bytes on disk.

See `roost.vfs.service.VFS` (the service), `FileDoc` (a file or directory document),
`FileTargets` (permission targets with ancestry) and `roost.vfs.errors`.
"""

from roost.vfs.blobs import StagedContent
from roost.vfs.errors import (
    ChecksumMismatch,
    FileNotFound,
    IncompleteUpload,
    InvalidMove,
    InvalidName,
    IsADirectory,
    NameConflict,
    NotADirectory,
    ParentNotFound,
    QuotaExceeded,
    RevisionMismatch,
)
from roost.vfs.filedoc import (
    FILES_DOCTYPE,
    TRASH_DIR_NAME,
    TRASH_DIR_PATH,
    VERSIONS_DOCTYPE,
    FileDoc,
    VersionDoc,
)
from roost.vfs.names import MAX_NAME_BYTES, join_path, normalize_name, split_path
from roost.vfs.service import NAMES_DOCTYPE, UPDATABLE_FIELDS, VFS, FileContent
from roost.vfs.targets import FileTargets
from roost.vfs.usage import DiskUsage

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
    "IncompleteUpload",
    "InvalidMove",
    "InvalidName",
    "IsADirectory",
    "NameConflict",
    "NotADirectory",
    "ParentNotFound",
    "QuotaExceeded",
    "RevisionMismatch",
    "StagedContent",
    "VersionDoc",
    "join_path",
    "normalize_name",
    "split_path",
]
