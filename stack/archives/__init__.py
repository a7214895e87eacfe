"""Zip archives of folders and selections, streamed as they are built."""

from roost.archives.zips import ArchiveEntry, FileArchive, archive_name

__all__ = ["ArchiveEntry", "FileArchive", "archive_name"]
