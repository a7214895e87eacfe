"""Name reservations: the uniqueness of names in a directory.

Each entry of a directory holds a reservation document `{dir_id}/{name}` → `{"file_id"}` in
`io.roost.files.names`: CouchDB refuses a second document with the same id, so two requests
(in one process or in two) can never create the same name twice. The reservation also makes
"the child named X" one key lookup and a listing one key-range read. A reservation is
trusted only when the file document it names agrees (same `dir_id` and `name`), so a crash
between the two writes leaves nothing wrong, only a stale reservation that the next writer
takes over.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.types import JSONDoc
from roost.vfs.documents import FileDocuments, name_key
from roost.vfs.errors import NameTaken
from roost.vfs.filedoc import now_iso, parse_time

# A reservation whose file document is still missing after this long is a crash leftover.
STALE_RESERVATION_SECONDS: Final = 30.0


class NameReservations:
    def __init__(self, documents: FileDocuments) -> None:
        self.documents = documents
        self.couch = documents.couch

    async def holder(self, instance: Instance, dir_id: str, name: str) -> str | None:
        """The id of the file the reservation of `name` names (to be checked against it)."""
        reservation = await self.couch.get_doc_or_none(
            self.documents.names_db(instance), name_key(dir_id, name)
        )
        return None if reservation is None else str(reservation.get("file_id", ""))

    async def entries(self, instance: Instance, dir_id: str) -> dict[str, str]:
        """Every reservation of a directory: file id → name (one key-range read)."""
        reservations = await self.couch.all_docs(
            self.documents.names_db(instance),
            params={
                "startkey": f"{dir_id}/",
                "endkey": f"{dir_id}0",  # '0' follows '/': the end of this prefix
                "inclusive_end": False,
                "include_docs": True,
            },
        )
        expected: dict[str, str] = {}
        prefix_length = len(dir_id) + 1
        for row in reservations["rows"]:
            raw = row.get("doc")
            if raw and raw.get("file_id"):
                expected[str(raw["file_id"])] = row["id"][prefix_length:]
        return expected

    async def reserve(self, instance: Instance, dir_id: str, name: str, file_id: str) -> None:
        """Take `name` in `dir_id` for `file_id`, or NameTaken."""
        db = self.documents.names_db(instance)
        key = name_key(dir_id, name)
        started = time.monotonic()
        pause = 0.01
        while time.monotonic() - started < 2 * STALE_RESERVATION_SECONDS:
            doc: JSONDoc = {"_id": key, "file_id": file_id, "reserved_at": now_iso()}
            try:
                await self.couch.put_doc(db, doc, exclusive=True)
                return
            except Conflict:
                pass
            existing = await self.couch.get_doc_or_none(db, key)
            if existing is None:
                continue
            holder_id = str(existing.get("file_id", ""))
            if holder_id == file_id:
                return
            holder = await self.documents.get_or_none(instance, holder_id)
            if holder is not None and holder.dir_id == dir_id and holder.name == name:
                raise NameTaken(f"{name!r} already exists here", existing_id=holder_id)
            if holder is None and not _is_stale(existing):
                # Another request reserved the name and is writing its document right now
                # (or died doing so: then the reservation goes stale and is taken over).
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.2)
                continue
            doc["_rev"] = existing["_rev"]
            try:
                await self.couch.put_doc(db, doc, exclusive=True)
                return
            except Conflict:
                continue
        raise NameTaken(f"{name!r} is contended; try again")

    async def release(self, instance: Instance, dir_id: str, name: str, file_id: str) -> None:
        db = self.documents.names_db(instance)
        key = name_key(dir_id, name)
        try:
            existing = await self.couch.get_doc_or_none(db, key)
            if existing is not None and existing.get("file_id") == file_id:
                await self.couch.delete_doc(db, key, existing["_rev"])
        except (NotFound, Conflict):
            pass  # taken over meanwhile: no longer ours to release

    async def release_many(self, instance: Instance, keys: list[str], file_ids: set[str]) -> None:
        db = self.documents.names_db(instance)
        result = await self.couch.all_docs(db, keys=keys, params={"include_docs": True})
        deletions = [
            {"_id": row["doc"]["_id"], "_rev": row["doc"]["_rev"], "_deleted": True}
            for row in result["rows"]
            if row.get("doc") and row["doc"].get("file_id") in file_ids
        ]
        if deletions:
            await self.couch.bulk_docs(db, deletions)


def _is_stale(reservation: Mapping[str, Any]) -> bool:
    reserved = parse_time(str(reservation.get("reserved_at") or ""))
    if reserved is None:
        return True
    return (datetime.now(UTC) - reserved).total_seconds() > STALE_RESERVATION_SECONDS
