"""`ThumbnailService`: thumbnails and photo metadata of an instance's pictures and videos.

Made by the `thumbnail` job worker, which an `@event` trigger on `io.cozy.files` queues
for every new or changed picture or video, whatever path wrote it (see `events.py`): the
job renders both sizes in the worker pool and writes the EXIF metadata into the file's
document. A thumbnail asked for before its job ran (or removed since) is made on demand,
in the same pool. No pixel is ever decoded on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.jobs import JobDoc, JobService
from roost.jobs.own_triggers import OwnTrigger
from roost.thumbnails.errors import NoThumbnail
from roost.thumbnails.pool import RenderAborted, RenderPool
from roost.thumbnails.render import (
    Rendered,
    RenderError,
    read_file_metadata,
    render_image,
    render_video,
)
from roost.thumbnails.sizes import MEDIA_TYPE, ThumbnailSize
from roost.thumbnails.store import Targets, ThumbnailStore, content_key
from roost.vfs import FILES_DOCTYPE, VFS, FileDoc, RevisionMismatch
from roost.vfs.errors import BlobMissing

log = logging.getLogger("roost.thumbnails")

WORKER: Final = "thumbnail"
# One trigger per instance, with a fixed id so two processes creating it make one.
TRIGGER_ID: Final = "io.roost.thumbnails"
TRIGGER_ARGUMENTS: Final = f"{FILES_DOCTYPE}:CREATED,UPDATED:image,video:class"
# Pictures Pillow (with pillow-heif) decodes; other image types (SVG, icons…) get none.
IMAGE_TYPES: Final = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/bmp",
        "image/tiff",
    }
)
# The metadata fields this service computes (others a client stored are kept).
_OWN_FIELDS: Final = frozenset({"extractor_version", "width", "height", "orientation", "gps"})
_METADATA_ATTEMPTS: Final = 5


@dataclass(frozen=True)
class Thumbnail:
    body: bytes
    etag: str
    media_type: str = MEDIA_TYPE


class ThumbnailService:
    def __init__(
        self,
        vfs: VFS,
        jobs: JobService,
        *,
        pool: RenderPool | None = None,
        ffmpeg: str | None = None,
        find_ffmpeg: bool = True,
    ) -> None:
        self.vfs = vfs
        self.jobs = jobs
        self.pool = pool or RenderPool()
        # Kept as blobs of their file, wherever the file's bytes are (disk or S3); rendered
        # in a scratch folder of this stack's own disk.
        self.store = ThumbnailStore(vfs.blobs, vfs.files_dir / ".thumbnails")
        self.ffmpeg = ffmpeg or (shutil.which("ffmpeg") if find_ffmpeg else None)
        self._renders: dict[tuple[str, str, str], asyncio.Future[Rendered]] = {}
        self.trigger = OwnTrigger(jobs, TRIGGER_ID, "@event", TRIGGER_ARGUMENTS, WORKER)

    # -- what gets thumbnails ------------------------------------------------------------

    def kind(self, file: FileDoc) -> str | None:
        """ "image" or "video" when this file gets thumbnails here, else None."""
        if not file.is_file or file.internal_id is None:
            return None
        mime = file.mime.split(";")[0].strip().lower()
        if mime in IMAGE_TYPES:
            return "image"
        if file.class_ == "video" and self.ffmpeg is not None:
            return "video"
        return None

    # -- the thumbnails ------------------------------------------------------------------

    async def thumbnail(self, instance: Instance, file: FileDoc, size: ThumbnailSize) -> Thumbnail:
        """The cached thumbnail of `file` at `size`, made now if missing; NoThumbnail if none.

        The caller has already decided the principal may read `file`.
        """
        key = content_key(file)
        if self.kind(file) is None or key is None:
            raise NoThumbnail("this file has no thumbnails")
        body = await self.store.read(instance.domain, file.id, key, size)
        if body is None:
            await self.make(instance, file)
            body = await self.store.read(instance.domain, file.id, key, size)
            if body is None:
                # Removed as soon as made: the file's content changed or it was deleted.
                raise NoThumbnail("the file changed meanwhile")
        return Thumbnail(body, f'"{key}-{size.name}"')

    async def make(self, instance: Instance, file: FileDoc, *, metadata: bool = False) -> Rendered:
        """Render every size of `file`'s current content (once at a time per content)."""
        kind, key = self.kind(file), content_key(file)
        if kind is None or key is None:
            raise NoThumbnail("this file has no thumbnails")
        known_error = await self.store.error(instance.domain, file.id, key)
        if known_error is not None:
            raise NoThumbnail(f"no thumbnail: {known_error}")
        flight = (instance.domain, file.id, key)
        running = self._renders.get(flight)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Rendered] = asyncio.get_running_loop().create_future()
        self._renders[flight] = future
        try:
            rendered = await self._render(instance, file, kind, key, metadata=metadata)
        except BaseException as error:
            if isinstance(error, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(error)
                future.exception()  # marked retrieved: nobody else may be waiting
            raise
        else:
            future.set_result(rendered)
            return rendered
        finally:
            del self._renders[flight]

    async def _render(
        self, instance: Instance, file: FileDoc, kind: str, key: str, *, metadata: bool
    ) -> Rendered:
        assert file.internal_id is not None
        content = await self.vfs.open(instance, file)
        with self.store.targets() as targets:
            try:
                async with self.store.local_source(content) as source:
                    rendered = await self._run_render(kind, source, targets, metadata=metadata)
            except RenderAborted as error:
                # Maybe another file's fault (one pool): tried again next time, nothing noted.
                raise NoThumbnail(f"no thumbnail: {error}") from None
            except RenderError as error:
                reason = str(error)
                if await self._blob_still_there(instance, file):
                    await self.store.record_error(instance.domain, file.id, key, reason)
                raise NoThumbnail(f"no thumbnail: {reason}") from None
            except BlobMissing:
                raise NoThumbnail("the file was deleted meanwhile") from None
            await self.store.publish(instance.domain, file.id, key, targets)
        if await self._blob_still_there(instance, file):
            await self.store.drop_others(instance.domain, file.id, key)
        else:
            await self.store.remove(instance.domain, file.id)
            raise NoThumbnail("the file was deleted meanwhile")
        return rendered

    async def _run_render(
        self, kind: str, source: str, targets: Targets, *, metadata: bool
    ) -> Rendered:
        if kind == "video":
            assert self.ffmpeg is not None
            return await self.pool.run(
                render_video,
                source,
                targets,
                ffmpeg=self.ffmpeg,
                timeout_seconds=self.pool.wall_seconds / 2,
                cpu_seconds=self.pool.cpu_seconds,
                memory_bytes=self.pool.memory_bytes,
            )
        return await self.pool.run(
            render_image,
            source,
            targets,
            cpu_seconds=self.pool.cpu_seconds,
            want_metadata=metadata,
        )

    async def _blob_still_there(self, instance: Instance, file: FileDoc) -> bool:
        # A file deleted for good during its render must not keep thumbnails (or an error
        # note) that its deletion would have removed.
        assert file.internal_id is not None
        return await self.vfs.blobs.exists(instance.domain, file.id, file.internal_id)

    # -- the job -------------------------------------------------------------------------

    async def process(self, instance: Instance, file_id: str) -> dict[str, Any]:
        """The `thumbnail` job: both sizes and the metadata of the file's current content."""
        file = await self.vfs.get_or_none(instance, file_id)
        if file is None:
            return {"file_id": file_id, "skipped": "the file no longer exists"}
        kind, key = self.kind(file), content_key(file)
        if kind is None or key is None:
            return {"file_id": file_id, "skipped": "this file gets no thumbnails"}
        result: dict[str, Any] = {"file_id": file_id, "key": key}
        extracted: dict[str, Any] | None = None
        if not await self.store.complete(instance.domain, file.id, key):
            rendered = await self.make(instance, file, metadata=kind == "image")
            result["sizes"] = {name: list(size) for name, size in rendered.sizes.items()}
            extracted = rendered.metadata
        if kind == "image":
            if extracted is None:
                content = await self.vfs.open(instance, file)
                try:
                    async with self.store.local_source(content) as source:
                        extracted = await self.pool.run(read_file_metadata, source)
                except RenderError as error:
                    raise NoThumbnail(f"no metadata: {error}") from None
            result["metadata"] = await self._save_metadata(instance, file, key, extracted)
        return result

    async def _save_metadata(
        self, instance: Instance, file: FileDoc, key: str, extracted: Mapping[str, Any]
    ) -> str:
        current = file
        for _ in range(_METADATA_ATTEMPTS):
            if content_key(current) != key:
                return "skipped: the content changed meanwhile"
            existing = current.doc.get("metadata")
            existing = dict(existing) if isinstance(existing, Mapping) else {}
            merged = {name: value for name, value in existing.items() if name not in _OWN_FIELDS}
            merged.update(extracted)
            if "datetime" not in extracted:
                merged["datetime"] = existing.get("datetime") or current.created_at
            if merged == existing:
                return "unchanged"
            try:
                await self.vfs.update_fields(
                    instance, current, {"metadata": merged}, if_rev=current.rev
                )
            except (RevisionMismatch, Conflict):
                fresh = await self.vfs.get_or_none(instance, file.id)
                if fresh is None:
                    return "skipped: the file no longer exists"
                current = fresh
                continue
            return "saved"
        raise Conflict("the file kept changing; its metadata will be saved by its next job")

    async def run_job(self, instance: Instance, job: JobDoc) -> dict[str, Any]:
        event = job.message.get("event")
        doc = event.get("doc") if isinstance(event, Mapping) else None
        file_id = doc.get("_id") if isinstance(doc, Mapping) else job.message.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise NotFound("the job names no file (message.file_id or an event)")
        return await self.process(instance, file_id)

    def attach_jobs(self) -> None:
        """Register the `thumbnail` worker in this process's job runner."""
        self.jobs.register_worker(
            WORKER,
            self.run_job,
            concurrency=self.pool.workers,
            timeout_seconds=self.pool.wall_seconds * 2,
            # A picture that cannot be read fails the same way twice: one retry is for
            # the store's hiccups. The reason is kept, so the retry costs nothing.
            max_attempts=2,
            backoff_seconds=1.0,
        )

    # -- the trigger ---------------------------------------------------------------------

    async def ensure_trigger(self, instance: Instance) -> None:
        """Make sure the instance has its thumbnail trigger (checked once per process)."""
        await self.trigger.ensure(instance)

    def trigger_ready(self, instance: Instance) -> bool:
        return self.trigger.ready(instance)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.pool.close)
