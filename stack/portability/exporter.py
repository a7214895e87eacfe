"""Export one instance into an archive (see `roost.portability.archive` for the format).

Streamed: documents are read a page at a time and spooled to a temp file per database on
disk beside the archive, file bytes are copied from their blobs; only the list of blob ids
is held in memory. The archive appears at its path only once complete (written as `.part`,
fsynced, renamed).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from roost.couch import CouchClient, quote_db
from roost.errors import NotFound, RoostError
from roost.instances import Instance
from roost.portability.archive import ArchiveWriter, Manifest, blob_member, documents_member
from roost.portability.contents import EXCLUDED_DATABASES, blob_refs, redact
from roost.portability.progress import Progress, SilentProgress
from roost.vfs import VFS
from roost.vfs.errors import BlobMissing

PAGE_SIZE = 500


class ExportFailed(RoostError):
    """The instance cannot be exported as it is (e.g. bytes missing on disk)."""

    status = 500


async def instance_databases(couch: CouchClient, instance: Instance) -> list[str]:
    """The database part (`io-cozy-contacts`) of every database of the instance."""
    start = len(instance.prefix) + 1
    return [name[start:] for name in await couch.databases_under(instance.prefix)]


async def export_instance(
    couch: CouchClient,
    vfs: VFS,
    instance: Instance,
    path: Path,
    *,
    progress: Progress | None = None,
) -> Manifest:
    """Write the whole instance into `path` (`.tar`, or gzip for `.tar.gz`/`.tgz`)."""
    progress = progress or SilentProgress()
    databases = [
        d for d in await instance_databases(couch, instance) if d not in EXCLUDED_DATABASES
    ]
    writer = await asyncio.to_thread(
        ArchiveWriter,
        path,
        domain=instance.domain,
        created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    )
    blobs: dict[tuple[str, str], int] = {}
    try:
        with tempfile.TemporaryDirectory(prefix=".roost-export-", dir=path.parent) as spool_dir:
            progress.stage("documents", None, "docs")
            for database in sorted(databases):
                spool = Path(spool_dir) / f"{database}.ndjson"
                # A local spool file, written a page at a time between store requests.
                with open(spool, "wb") as out:  # noqa: ASYNC230
                    count = await _dump_database(
                        couch, f"{instance.prefix}/{database}", database, out, blobs, progress
                    )
                await asyncio.to_thread(
                    writer.add_file, documents_member(database), spool, documents=count
                )
                spool.unlink()
            progress.stage("file bytes", sum(blobs.values()), "B")
            for (file_id, internal_id), size in sorted(blobs.items()):
                source = await _blob_file(
                    vfs, instance.domain, file_id, internal_id, Path(spool_dir)
                )
                # Blocking tar and disk work runs in a thread: a server keeps answering.
                await asyncio.to_thread(writer.add_file, blob_member(file_id, internal_id), source)
                if source.parent == Path(spool_dir):
                    source.unlink()
                progress.advance(max(size, 0))
        manifest = await asyncio.to_thread(writer.finish)
    except BaseException:
        await asyncio.to_thread(writer.abort)
        raise
    finally:
        progress.close()
    return manifest


async def _blob_file(
    vfs: VFS, domain: str, file_id: str, internal_id: str, spool_dir: Path
) -> Path:
    """The blob as a local file the archive writer can read: the blob itself on a local
    store, else a spool copy fetched through the blob store."""
    missing = ExportFailed(f"the bytes of file {file_id} (content {internal_id}) are missing")
    local = vfs.blobs.local_path(domain, file_id, internal_id)
    if local is not None:
        if not local.is_file():
            raise missing
        return local
    spool = spool_dir / "blob.part"
    try:
        reader = await vfs.blobs.open(domain, file_id, internal_id)
    except BlobMissing:
        raise missing from None
    try:
        # A local spool file, written a chunk at a time between object-store reads.
        with open(spool, "wb") as out:  # noqa: ASYNC230
            async for chunk in reader.read(0, reader.size):
                out.write(chunk)
    finally:
        reader.close()
    return spool


async def _dump_database(
    couch: CouchClient,
    db: str,
    database: str,
    out: IO[bytes],
    blobs: dict[tuple[str, str], int],
    progress: Progress,
) -> int:
    """Every leaf revision of every live document (conflicts included), with `_revisions`."""
    count = 0
    last_id: str | None = None
    while True:
        params: dict[str, Any] = {"include_docs": True, "conflicts": True, "limit": PAGE_SIZE}
        if last_id is not None:
            params["startkey"] = last_id
            params["skip"] = 1
        page = await couch.all_docs(db, params=params)
        rows = page.get("rows", [])
        if not rows:
            return count
        last_id = str(rows[-1]["id"])
        wanted: list[dict[str, str]] = []
        for row in rows:
            doc = row.get("doc")
            # Design documents are the stack's indexes, made again on the other side.
            if not doc or str(row["id"]).startswith("_"):
                continue
            wanted.append({"id": doc["_id"], "rev": doc["_rev"]})
            wanted.extend({"id": doc["_id"], "rev": rev} for rev in doc.get("_conflicts", []))
        for doc in await _bulk_get(couch, db, wanted):
            doc = redact(database, doc)
            refs = blob_refs(database, doc)
            if refs is not None:
                blobs[(refs[0], refs[1])] = refs[2]
            out.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
            out.write(b"\n")
            count += 1
        progress.advance(len(wanted))
        if len(rows) < PAGE_SIZE:
            return count


async def _bulk_get(couch: CouchClient, db: str, wanted: list[dict[str, str]]) -> list[Any]:
    if not wanted:
        return []
    result = await couch.json_request(
        "POST",
        f"/{quote_db(db)}/_bulk_get",
        params={"revs": True, "attachments": True},
        json_body={"docs": wanted},
    )
    docs: list[Any] = []
    for entry in result.get("results", []):
        for answer in entry.get("docs", []):
            doc = answer.get("ok")
            if doc is None:
                # Changed between the listing and the read: the revision was replaced.
                raise NotFound(f"document {entry.get('id')} changed during the export; retry")
            if not doc.get("_deleted"):
                docs.append(doc)
    return docs
