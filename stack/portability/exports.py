"""Exports the owner starts from /settings: written in the background, downloaded when ready.

Everything is on disk, under `{data_dir}/exports/{domain}/{instance identity}/` (a digest of
the instance's own secret, so a new instance given the same domain sees none of a removed
one's archives), and any stack process sharing the data directory can list and serve them:

    {id}.tar.gz.part   being written (the archive writer's temp file)
    {id}.tar.gz        ready
    {id}.error         failed, with the one-line reason

An instance runs one export at a time and keeps its `KEEP` latest; archives older than
`ttl_seconds` are removed whenever the exports of the instance are listed or started.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roost.couch import CouchClient
from roost.errors import Conflict, RoostError
from roost.instances import Instance
from roost.portability.errors import ExportNotFound
from roost.portability.exporter import export_instance
from roost.vfs import VFS

log = logging.getLogger("roost.portability")

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
KEEP = 3
SUFFIX = ".tar.gz"
# A `.part` untouched this long belongs to a process that died while writing it.
STALE_PART_SECONDS = 15 * 60
_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$")


@dataclass(frozen=True)
class ExportState:
    id: str
    state: str  # "running" | "ready" | "failed"
    created_at: str
    size: int | None
    error: str | None
    expires_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "size": self.size,
            "error": self.error,
            "download": f"/settings/exports/{self.id}" if self.state == "ready" else None,
        }


class ExportJobs:
    def __init__(
        self,
        couch: CouchClient,
        vfs: VFS,
        root: Path,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
    ) -> None:
        self.couch = couch
        self.vfs = vfs
        self.root = root
        self.ttl_seconds = ttl_seconds
        # Strong references: the event loop keeps only weak ones to running tasks.
        self._tasks: set[asyncio.Task[None]] = set()
        # Two clicks at once must not both find "nothing running" and start two exports.
        self._starting = asyncio.Lock()

    def folder(self, instance: Instance) -> Path:
        # Named after the instance itself, not only its domain: an instance removed and
        # created again under the same domain must not see the previous owner's archives.
        identity = hashlib.sha256(b"roost-exports\0" + instance.secret).hexdigest()[:16]
        return self.root / instance.domain / identity

    async def start(self, instance: Instance) -> ExportState:
        """Begin an export in the background; Conflict if one is already running."""
        async with self._starting:
            return await self._start(instance)

    async def _start(self, instance: Instance) -> ExportState:
        states = await asyncio.to_thread(self._scan, instance)
        if any(s.state == "running" for s in states):
            raise Conflict("an export is already being written; wait for it to finish")
        for old in states[KEEP - 1 :]:
            await asyncio.to_thread(self._remove, instance, old.id)
        moment = datetime.now(UTC)
        export_id = f"{moment.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
        folder = self.folder(instance)
        await asyncio.to_thread(_private_folder, folder)
        target = folder / f"{export_id}{SUFFIX}"
        # The writer creates `.part` at once; touch it first so a listing sees "running".
        await asyncio.to_thread(target.with_name(target.name + ".part").touch, 0o600)
        task = asyncio.create_task(self._write(instance, target, export_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return self._state(instance, export_id)

    async def _write(self, instance: Instance, target: Path, export_id: str) -> None:
        try:
            await export_instance(self.couch, self.vfs, instance, target)
        except (RoostError, OSError) as error:
            reason = error.reason if isinstance(error, RoostError) else str(error)
            log.warning("export %s of %s failed: %s", export_id, instance.domain, reason)
            (self.folder(instance) / f"{export_id}.error").write_text(reason[:500])
        except asyncio.CancelledError:
            (self.folder(instance) / f"{export_id}.error").write_text("the server stopped")
            raise

    async def wait(self) -> None:
        """Let running exports finish (tests, and a graceful stop)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def states(self, instance: Instance) -> list[ExportState]:
        return await asyncio.to_thread(self._scan, instance)

    def path_of(self, instance: Instance, export_id: str) -> Path:
        """The archive of a ready export, or ExportNotFound."""
        if not _ID.match(export_id):
            raise ExportNotFound("no such export")
        path = self.folder(instance) / f"{export_id}{SUFFIX}"
        if not path.is_file() or self._expired(path):
            raise ExportNotFound("no such export (it may have expired)")
        return path

    # -- on disk -------------------------------------------------------------------------

    def _state(self, instance: Instance, export_id: str) -> ExportState:
        folder = self.folder(instance)
        ready = folder / f"{export_id}{SUFFIX}"
        error = folder / f"{export_id}.error"
        created = datetime.strptime(export_id.split("-")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = datetime.fromtimestamp(created.timestamp() + self.ttl_seconds, UTC)
        if error.is_file():
            state, size, reason = "failed", None, error.read_text()[:500]
        elif ready.is_file():
            state, size, reason = "ready", ready.stat().st_size, None
        elif _age(ready.with_name(ready.name + ".part")) > STALE_PART_SECONDS:
            state, size, reason = "failed", None, "interrupted (the server stopped)"
        else:
            state, size, reason = "running", None, None
        return ExportState(
            id=export_id,
            state=state,
            created_at=created.isoformat().replace("+00:00", "Z"),
            size=size,
            error=reason,
            expires_at=expires.isoformat().replace("+00:00", "Z"),
        )

    def _scan(self, instance: Instance) -> list[ExportState]:
        """The instance's exports, newest first; expired ones are removed on the way."""
        folder = self.folder(instance)
        if not folder.is_dir():
            return []
        ids: set[str] = set()
        for entry in folder.iterdir():
            export_id = entry.name.split(".", 1)[0]
            if not _ID.match(export_id):
                continue
            if self._expired(entry):
                entry.unlink(missing_ok=True)
                continue
            ids.add(export_id)
        return [self._state(instance, export_id) for export_id in sorted(ids, reverse=True)]

    def _expired(self, path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime > self.ttl_seconds
        except FileNotFoundError:
            return True

    def _remove(self, instance: Instance, export_id: str) -> None:
        for entry in self.folder(instance).glob(f"{export_id}.*"):
            entry.unlink(missing_ok=True)


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.parent.chmod(0o700)
