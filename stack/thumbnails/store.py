"""Thumbnails on disk, beside the file's bytes.

    {files_dir}/{domain}/{id[:2]}/{id}/thumbs/{content key}/{size}.jpg

The folder `{id}` is the file's blob folder (`roost.vfs.blobs`), which deleting a file for
good removes whole (trash emptied, `DELETE /files/trash/{id}`, WebDAV DELETE…): the
thumbnails go with it by construction, whichever process deletes. The content key comes
from the content's checksum, so a new version of the file never shows the old picture's
thumbnails; when the new ones are written, the older keys are removed. A picture that
cannot be thumbnailed leaves `error.txt` (the reason) under its key, so it is not decoded
again on every request.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from roost.thumbnails.sizes import EXTENSION, SIZES, ThumbnailSize
from roost.vfs import FileDoc
from roost.vfs.blobs import LocalBlobStore

FOLDER: Final = "thumbs"
_ERROR_FILE: Final = "error.txt"
_MAX_ERROR_CHARS: Final = 500


def content_key(file: FileDoc) -> str | None:
    """A name for this content of the file (hex, from its SHA-256, else its MD5)."""
    if file.sha256:
        return file.sha256[:32].lower()
    if file.md5sum:
        try:
            return base64.b64decode(file.md5sum, validate=True).hex()
        except (binascii.Error, ValueError):
            return None
    return None


class ThumbnailStore:
    def __init__(self, blobs: LocalBlobStore) -> None:
        self.blobs = blobs

    def folder(self, domain: str, file_id: str) -> Path:
        return self.blobs.file_dir(domain, file_id) / FOLDER

    def path(self, domain: str, file_id: str, key: str, size: ThumbnailSize) -> Path:
        return self.folder(domain, file_id) / key / f"{size.name}.{EXTENSION}"

    def targets(self, domain: str, file_id: str, key: str) -> dict[str, tuple[str, int]]:
        """Where a worker writes each size (the shape `render.render_image` takes)."""
        return {
            size.name: (str(self.path(domain, file_id, key, size)), size.box)
            for size in SIZES.values()
        }

    def complete(self, domain: str, file_id: str, key: str) -> bool:
        return all(self.path(domain, file_id, key, size).is_file() for size in SIZES.values())

    def error(self, domain: str, file_id: str, key: str) -> str | None:
        try:
            return (self.folder(domain, file_id) / key / _ERROR_FILE).read_text("utf-8")
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def record_error(self, domain: str, file_id: str, key: str, reason: str) -> None:
        folder = self.folder(domain, file_id) / key
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".part-")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(reason[:_MAX_ERROR_CHARS])
        os.replace(temp, folder / _ERROR_FILE)

    def drop_others(self, domain: str, file_id: str, keep: str) -> None:
        """Remove the thumbnails of the file's earlier contents."""
        folder = self.folder(domain, file_id)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            for entry in os.scandir(folder):
                if entry.name != keep and entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)

    def remove(self, domain: str, file_id: str) -> None:
        """Every thumbnail of a file (deleting the file for good does this already)."""
        shutil.rmtree(self.folder(domain, file_id), ignore_errors=True)
        # The file's own folder too if nothing else is left in it (never its bytes).
        with contextlib.suppress(OSError):
            self.blobs.file_dir(domain, file_id).rmdir()
