"""Versions: the old contents of a file (`io.cozy.files.versions`, id `{file_id}/{internal
id}`), kept when new content replaces them, at most `keep` per file (oldest dropped)."""

from __future__ import annotations

from typing import Final

from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.permissions import FILES_DOCTYPE
from roost.types import JSONDoc
from roost.vfs.blob_store import BlobStore, FileContent
from roost.vfs.documents import FileDocuments
from roost.vfs.errors import FileNotFound
from roost.vfs.filedoc import FileDoc, VersionDoc
from roost.vfs.usage import UsageTracker

DEFAULT_VERSIONS_TO_KEEP: Final = 20


class Versions:
    def __init__(
        self,
        documents: FileDocuments,
        blobs: BlobStore,
        usage: UsageTracker,
        *,
        keep: int = DEFAULT_VERSIONS_TO_KEEP,
    ) -> None:
        self.documents = documents
        self.couch = documents.couch
        self.blobs = blobs
        self.usage = usage
        self.keep = keep

    async def keep_version(self, instance: Instance, replaced: FileDoc) -> None:
        """Record the content `replaced` held as a version; drop the oldest beyond the limit."""
        old_internal = replaced.internal_id
        if old_internal is None:
            return
        if self.keep <= 0:
            await self.blobs.remove(instance.domain, replaced.id, old_internal)
            return
        metadata = dict(replaced.doc.get("cozyMetadata") or {})
        version: JSONDoc = {
            "_id": f"{replaced.id}/{old_internal}",
            "size": str(replaced.size),
            "md5sum": replaced.md5sum,
            "sha256": replaced.sha256,
            "internal_vfs_id": old_internal,
            "tags": [],
            "cozyMetadata": {
                **metadata,
                "createdAt": replaced.updated_at or metadata.get("createdAt"),
                "updatedAt": replaced.updated_at or metadata.get("updatedAt"),
            },
            "relationships": {"file": {"data": {"_id": replaced.id, "_type": FILES_DOCTYPE}}},
        }
        try:
            await self.couch.put_doc(self.documents.versions_db(instance), version)
        except Conflict:
            return
        self.usage.record(instance, versions=replaced.size)
        versions = await self.all_of(instance, replaced.id)
        excess = len(versions) - self.keep
        for old in versions[: max(0, excess)]:
            await self.drop(instance, old)

    async def all_of(self, instance: Instance, file_id: str) -> list[VersionDoc]:
        """The old contents of a file, oldest first."""
        result = await self.couch.all_docs(
            self.documents.versions_db(instance),
            params={
                "startkey": f"{file_id}/",
                "endkey": f"{file_id}0",
                "inclusive_end": False,
                "include_docs": True,
            },
        )
        versions = [VersionDoc(row["doc"]) for row in result["rows"] if row.get("doc")]
        versions.sort(key=lambda version: (version.updated_at, version.id))
        return versions

    async def get(self, instance: Instance, file_id: str, version_id: str) -> VersionDoc:
        raw = await self.couch.get_doc_or_none(
            self.documents.versions_db(instance), f"{file_id}/{version_id}"
        )
        if raw is None:
            raise FileNotFound(f"no version {version_id} of {file_id}")
        return VersionDoc(raw)

    def open(self, instance: Instance, version: VersionDoc) -> FileContent:
        return FileContent(
            blobs=self.blobs,
            domain=instance.domain,
            file_id=version.file_id,
            internal_id=_internal_id(version),
            size=version.size,
            md5sum=version.md5sum,
            sha256=version.doc.get("sha256"),
            mime="application/octet-stream",
            etag=f'"{version.md5sum}"',
        )

    async def drop(self, instance: Instance, version: VersionDoc) -> None:
        """Delete one version, document and bytes."""
        try:
            await self.couch.delete_doc(
                self.documents.versions_db(instance), version.id, str(version.doc["_rev"])
            )
        except (NotFound, Conflict):
            return
        await self.blobs.remove(instance.domain, version.file_id, _internal_id(version))
        self.usage.record(instance, versions=-version.size)

    async def forget_all(self, instance: Instance, file_id: str) -> int:
        """Delete the version documents of a file being destroyed (its bytes go with the
        file's); the bytes they held."""
        total = 0
        for version in await self.all_of(instance, file_id):
            try:
                await self.couch.delete_doc(
                    self.documents.versions_db(instance), version.id, str(version.doc["_rev"])
                )
                total += version.size
            except (NotFound, Conflict):
                pass
        return total


def _internal_id(version: VersionDoc) -> str:
    return str(version.doc.get("internal_vfs_id") or version.version_id)
