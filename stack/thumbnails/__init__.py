"""Thumbnails and photo metadata: pictures (JPEG, PNG, GIF, WebP, HEIC/HEIF…) and videos.

`ThumbnailService` (`services.thumbnails`) makes two sizes (`sizes.py`) in bounded worker
processes (`pool.py`, `render.py`), keeps them beside the file's bytes (`store.py`),
writes EXIF metadata into the file document (`metadata.py`) and registers the `thumbnail`
job worker; `FileEvents` (`events.py`) passes every VFS write to the `@event` triggers.
See docs/api/thumbnails.md.
"""

from roost.thumbnails.errors import NoThumbnail
from roost.thumbnails.events import FileEvents
from roost.thumbnails.pool import RenderPool
from roost.thumbnails.service import TRIGGER_ID, WORKER, Thumbnail, ThumbnailService
from roost.thumbnails.sizes import LARGE, SIZES, SMALL, ThumbnailSize

__all__ = [
    "LARGE",
    "SIZES",
    "SMALL",
    "TRIGGER_ID",
    "WORKER",
    "FileEvents",
    "NoThumbnail",
    "RenderPool",
    "Thumbnail",
    "ThumbnailService",
    "ThumbnailSize",
]
