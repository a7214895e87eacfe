"""Import an archive into an instance, merging: nothing already there is lost or overwritten.

Two passes over the archive:

1. **Verify and plan** (writes nothing): every member is checked (names, types, sizes,
   SHA-256 against the manifest, document structure, counts) and compared with the target
   instance through read-only store requests (`_revs_diff`, `_all_docs`). A dry run stops
   here and reports the plan.
2. **Apply**: each member is checked again against the verified manifest before anything
   read from it is written. Documents are written with `_bulk_docs` and `new_edits: false`,
   the replication write: revisions the instance lacks are added to its revision tree, the
   ones it has are left alone. A document changed on both sides therefore keeps both
   branches (a conflict, which CouchDB resolves the same way everywhere: the longest
   history wins, ties broken by revision id; the other branch stays readable through
   `open_revs`/`conflicts`). Nothing is deleted: deletions are not exported.

Files keep their ids and histories too. A new file or directory whose name is taken in its
folder by another entry is renamed `name (imported).ext`, then `name (imported 2).ext`, …
(a directory: `Photos (imported)`): its history is added, then one more revision gives it
the free name. File bytes are staged through the VFS (quota checked, MD5 verified against the
file document) and committed as that file's blob; names are claimed through the VFS.

File and version documents of the archive are held in memory during an import (about a
kilobyte each); documents of other doctypes and file bytes are streamed.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roost.couch import CouchClient, database_name
from roost.doctypes import SchemaRegistry
from roost.errors import BadRequest, InvalidDocument, RoostError
from roost.instances import Instance
from roost.permissions import ROOT_DIR_ID, TRASH_DIR_ID
from roost.portability.archive import (
    DEFAULT_MAX_MEMBER_BYTES,
    ArchiveReader,
    Manifest,
    Member,
    blob_member,
    check_document_line,
    iter_lines,
)
from roost.portability.contents import (
    EXCLUDED_DATABASES,
    FILES_DATABASE,
    NAMES_DATABASE,
    VERSIONS_DATABASE,
    blob_refs,
)
from roost.portability.errors import ArchiveRejected, ImportFailed
from roost.portability.progress import Progress, SilentProgress
from roost.portability.revision_trees import (
    BATCH,
    groups,
    live_docs,
    missing_revs,
    winning_revision,
    write_revisions,
)
from roost.vfs import VFS, InvalidName, NameTaken, join_path, normalize_name
from roost.vfs.names import MAX_NAME_BYTES

_FIXED_DIRS = (ROOT_DIR_ID, TRASH_DIR_ID)
_MAX_RENAMES = 1000


# -- the report --------------------------------------------------------------------------


@dataclass
class DatabaseChanges:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    source_domain: str
    databases: dict[str, DatabaseChanges] = field(default_factory=dict)
    files_new: int = 0
    files_updated: int = 0
    files_unchanged: int = 0
    # (path in the archive, path in the instance) of entries renamed on a name clash.
    renamed: list[tuple[str, str]] = field(default_factory=list)
    blobs_to_store: int = 0
    bytes_to_store: int = 0

    def lines(self) -> list[str]:
        out = []
        for database, changes in sorted(self.databases.items()):
            out.append(
                f"{database}: {changes.new} new, {changes.updated} updated, "
                f"{changes.unchanged} unchanged"
            )
        out.append(
            f"files and directories: {self.files_new} to add, {self.files_updated} to update, "
            f"{self.files_unchanged} unchanged, {len(self.renamed)} to rename"
        )
        out.extend(f"  rename {before} -> {after}" for before, after in self.renamed)
        out.append(f"file bytes to store: {self.bytes_to_store} in {self.blobs_to_store} blobs")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "source_domain": self.source_domain,
            "databases": {k: vars(v) for k, v in sorted(self.databases.items())},
            "files": {
                "new": self.files_new,
                "updated": self.files_updated,
                "unchanged": self.files_unchanged,
                "renamed": [list(pair) for pair in self.renamed],
            },
            "blobs_to_store": self.blobs_to_store,
            "bytes_to_store": self.bytes_to_store,
        }


# -- names -------------------------------------------------------------------------------


def imported_name(name: str, attempt: int, *, is_dir: bool) -> str:
    """`report.pdf` → `report (imported).pdf`, then `report (imported 2).pdf`, …"""
    base, ext = name, ""
    if not is_dir:
        dot = name.rfind(".")
        if dot > 0:
            base, ext = name[:dot], name[dot:]
    suffix = " (imported)" if attempt == 1 else f" (imported {attempt})"
    candidate = f"{base}{suffix}{ext}"
    while len(candidate.encode("utf-8")) > MAX_NAME_BYTES and base:
        base = base[:-1]
        candidate = f"{base}{suffix}{ext}"
    return candidate


# -- revisions ---------------------------------------------------------------------------


async def _classify(
    couch: CouchClient, db: str, docs: list[dict[str, Any]], changes: DatabaseChanges
) -> None:
    missing = await missing_revs(couch, db, docs)
    live = await live_docs(couch, db, sorted({d["_id"] for d in docs}))
    for doc_id in dict.fromkeys(d["_id"] for d in docs):
        if not missing.get(doc_id):
            changes.unchanged += 1
        elif doc_id in live:
            changes.updated += 1
        else:
            changes.new += 1


# -- files -------------------------------------------------------------------------------


@dataclass
class _Entry:
    """One file or directory of the archive and what the import does with it."""

    id: str
    leaves: list[dict[str, Any]]
    action: str = "unchanged"  # "unchanged" | "add" | "merge"
    missing: list[dict[str, Any]] = field(default_factory=list)
    parent_id: str = ROOT_DIR_ID
    name: str = ""

    @property
    def winner(self) -> dict[str, Any]:
        return winning_revision(self.leaves)

    @property
    def is_dir(self) -> bool:
        return bool(self.winner.get("type") == "directory")

    @property
    def depth(self) -> int:
        path = str(self.winner.get("path") or "")
        return path.count("/") if self.is_dir else 1 << 20


def _check_file_doc(doc: dict[str, Any], where: str) -> None:
    if doc.get("type") not in ("file", "directory"):
        raise ArchiveRejected(f"{where}: {doc['_id'][:40]!r} is neither a file nor a directory")
    if doc["_id"] in _FIXED_DIRS:
        return
    try:
        normalize_name(doc.get("name"))  # type: ignore[arg-type]
    except InvalidName:
        raise ArchiveRejected(f"{where}: {doc['_id'][:40]!r} has an invalid name") from None
    if not isinstance(doc.get("dir_id"), str) or not doc["dir_id"]:
        raise ArchiveRejected(f"{where}: {doc['_id'][:40]!r} has no parent directory")


@dataclass
class _Plan:
    manifest: Manifest
    report: ImportReport
    entries: list[_Entry]
    versions: list[dict[str, Any]]
    # (file_id, internal_id) → md5sum of the bytes to store (absent from the instance).
    needed_blobs: dict[tuple[str, str], str]


class Importer:
    def __init__(
        self,
        couch: CouchClient,
        vfs: VFS,
        instance: Instance,
        path: Path,
        *,
        progress: Progress | None = None,
        max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
        schemas: SchemaRegistry | None = None,
    ) -> None:
        self.couch = couch
        registry = schemas or SchemaRegistry()
        self.schemas = registry
        # Doctypes with a schema, by database: their documents are checked as replication
        # checks them, so an archive cannot bring in what no write path would accept.
        self.schema_of = {database_name("", d)[1:]: d for d in registry.known()}
        self.vfs = vfs
        self.instance = instance
        self.path = path
        self.progress = progress or SilentProgress()
        self.max_member_bytes = max_member_bytes

    def db(self, database: str) -> str:
        return f"{self.instance.prefix}/{database}"

    async def run(self, *, dry_run: bool) -> ImportReport:
        try:
            plan = await self._verify_and_plan()
            if not dry_run:
                await self._apply(plan)
            return plan.report
        finally:
            self.progress.close()

    # -- pass 1 ------------------------------------------------------------------------------

    async def _verify_and_plan(self) -> _Plan:
        report = ImportReport(source_domain="")
        counted: dict[str, int] = {}
        file_docs: list[dict[str, Any]] = []
        versions: list[dict[str, Any]] = []
        referenced: dict[tuple[str, str], str] = {}
        present: set[tuple[str, str]] = set()
        sizes_named: dict[tuple[str, str], int] = {}
        self.progress.stage("checking the archive", None, "members")
        reader = ArchiveReader(self.path, max_member_bytes=self.max_member_bytes)
        for member in reader:
            meaning = member.meaning
            if meaning.kind == "blob":
                present.add((meaning.file_id, meaning.internal_id))
            else:
                database = meaning.database
                if database in EXCLUDED_DATABASES:
                    raise ArchiveRejected(f"{member.name}: this database is never imported")
                changes = report.databases.setdefault(database, DatabaseChanges())
                count = 0
                keep = file_docs if database == FILES_DATABASE else versions
                pending: list[dict[str, Any]] = []
                for line in iter_lines(member.stream, member.name):
                    doc = check_document_line(line, member.name)
                    count += 1
                    refs = blob_refs(database, doc)
                    if refs is not None:
                        if refs[2] < 0 or not refs[3]:
                            raise ArchiveRejected(
                                f"{member.name}: {doc['_id'][:40]!r} has no valid size or md5sum"
                            )
                        referenced[(refs[0], refs[1])] = refs[3]
                        sizes_named[(refs[0], refs[1])] = refs[2]
                    if database == FILES_DATABASE:
                        _check_file_doc(doc, member.name)
                    if database in self.schema_of:
                        self._check_schema(self.schema_of[database], doc, member.name)
                    if database in (FILES_DATABASE, VERSIONS_DATABASE):
                        keep.append(doc)
                        continue
                    # A batch ends between two ids, never between two leaves of one.
                    if len(pending) >= BATCH and pending[-1]["_id"] != doc["_id"]:
                        await _classify(self.couch, self.db(database), pending, changes)
                        pending = []
                    pending.append(doc)
                if pending:
                    await _classify(self.couch, self.db(database), pending, changes)
                counted[member.name] = count
            self.progress.advance(1)
        # The archive is complete and every member matches the manifest: now its claims.
        manifest = reader.manifest
        assert manifest is not None  # the reader sets it when the iteration completes
        for member_entry in manifest.members:
            if (
                member_entry.name in counted
                and member_entry.documents != counted[member_entry.name]
            ):
                raise ArchiveRejected(
                    f"{member_entry.name} holds {counted[member_entry.name]} documents, "
                    f"the manifest says {member_entry.documents}"
                )
        missing_blobs = sorted(set(referenced) - present)
        if missing_blobs:
            file_id, internal_id = missing_blobs[0]
            raise ArchiveRejected(
                f"the bytes of file {file_id} (content {internal_id}) are not in the archive"
            )
        member_sizes = {m.name: m.size for m in manifest.members}
        for (file_id, internal_id), size in sorted(sizes_named.items()):
            if member_sizes.get(blob_member(file_id, internal_id)) != size:
                raise ArchiveRejected(
                    f"the bytes of file {file_id} (content {internal_id}) differ in size "
                    "from its document"
                )
        report.source_domain = manifest.domain
        entries = await self._plan_files(file_docs, report)
        version_changes = report.databases.get(VERSIONS_DATABASE)
        if version_changes is not None:
            for group in groups(versions):
                await _classify(self.couch, self.db(VERSIONS_DATABASE), group, version_changes)
        report.databases.pop(FILES_DATABASE, None)
        needed = await self._needed_blobs(entries, versions, referenced)
        sizes = {m.name: m.size for m in manifest.members}
        report.blobs_to_store = len(needed)
        report.bytes_to_store = sum(sizes.get(f"blobs/{f}/{i}", 0) for f, i in needed)
        return _Plan(manifest, report, entries, versions, needed)

    async def _plan_files(
        self, file_docs: list[dict[str, Any]], report: ImportReport
    ) -> list[_Entry]:
        by_id: dict[str, _Entry] = {}
        for doc in file_docs:
            by_id.setdefault(doc["_id"], _Entry(doc["_id"], [])).leaves.append(doc)
        entries = sorted(by_id.values(), key=lambda e: (e.depth, e.id))
        db = self.db(FILES_DATABASE)
        live: dict[str, dict[str, Any]] = {}
        missing: dict[str, set[str]] = {}
        for group in groups(doc for e in entries for doc in e.leaves):
            missing.update(await missing_revs(self.couch, db, group))
            live.update(await live_docs(self.couch, db, sorted({d["_id"] for d in group})))
        # Names taken by this plan: (parent id, name).
        claimed: set[tuple[str, str]] = set()
        paths: dict[str, str] = {ROOT_DIR_ID: "/"}
        for entry in entries:
            absent = missing.get(entry.id, set())
            entry.missing = [leaf for leaf in entry.leaves if leaf["_rev"] in absent]
            if entry.id in _FIXED_DIRS and entry.id in live:
                # The instance's own root and trash stay as they are.
                entry.action = "unchanged"
            elif not entry.missing:
                entry.action = "unchanged"
            elif entry.id in live:
                entry.action = "merge"
            else:
                entry.action = "add"
            winner = entry.winner
            if entry.action == "unchanged":
                report.files_unchanged += 1
            elif entry.action == "merge":
                report.files_updated += 1
            else:
                report.files_new += 1
            if entry.id in _FIXED_DIRS:
                continue
            current = live.get(entry.id, winner) if entry.action != "add" else winner
            entry.parent_id = str(current.get("dir_id") or ROOT_DIR_ID)
            entry.name = str(current.get("name"))
            if entry.action == "add":
                if entry.parent_id not in by_id and entry.parent_id not in paths:
                    parent = await self.couch.get_doc_or_none(db, entry.parent_id)
                    if parent is None or parent.get("type") != "directory":
                        entry.parent_id = ROOT_DIR_ID  # an orphan lands at the root
                    else:
                        paths[entry.parent_id] = str(parent.get("path") or "/")
                original = join_path(self._archive_path(entry, by_id), entry.name)
                entry.name = await self._free_name(entry, claimed)
                parent_path = paths.get(entry.parent_id, "/")
                final = join_path(parent_path, entry.name)
                if entry.name != str(winner.get("name")):
                    report.renamed.append((original, final))
            claimed.add((entry.parent_id, entry.name))
            if entry.is_dir:
                known_parent = paths.get(entry.parent_id)
                paths[entry.id] = (
                    join_path(known_parent, entry.name)
                    if known_parent is not None
                    else str(current.get("path") or "/")
                )
        return entries

    @staticmethod
    def _archive_path(entry: _Entry, by_id: dict[str, _Entry]) -> str:
        parent = by_id.get(str(entry.winner.get("dir_id")))
        return str(parent.winner.get("path") or "/") if parent is not None else "/"

    async def _free_name(self, entry: _Entry, claimed: set[tuple[str, str]]) -> str:
        name = str(entry.winner.get("name"))
        for attempt in range(_MAX_RENAMES):
            candidate = name if attempt == 0 else imported_name(name, attempt, is_dir=entry.is_dir)
            if (entry.parent_id, candidate) in claimed:
                continue
            if not await self._name_taken(entry.parent_id, candidate, entry.id):
                return candidate
        raise BadRequest(f"no free name for {name!r} after {_MAX_RENAMES} attempts")

    async def _name_taken(self, parent_id: str, name: str, file_id: str) -> bool:
        """Whether another entry of the instance holds `name` in `parent_id` (read-only)."""
        reservation = await self.couch.get_doc_or_none(
            self.db(NAMES_DATABASE), f"{parent_id}/{name}"
        )
        if reservation is None or reservation.get("file_id") == file_id:
            return False
        holder = await self.couch.get_doc_or_none(
            self.db(FILES_DATABASE), str(reservation.get("file_id") or "_")
        )
        return (
            holder is not None and holder.get("dir_id") == parent_id and holder.get("name") == name
        )

    async def _needed_blobs(
        self,
        entries: list[_Entry],
        versions: list[dict[str, Any]],
        referenced: dict[tuple[str, str], str],
    ) -> dict[tuple[str, str], str]:
        written: list[tuple[str, dict[str, Any]]] = [
            (FILES_DATABASE, leaf) for e in entries if e.action != "unchanged" for leaf in e.missing
        ]
        version_missing = await self._missing_versions(versions)
        written.extend((VERSIONS_DATABASE, v) for v in version_missing)
        needed: dict[tuple[str, str], str] = {}
        for database, doc in written:
            refs = blob_refs(database, doc)
            if refs is None:
                continue
            key = (refs[0], refs[1])
            if not await self.vfs.blobs.exists(self.instance.domain, *key):
                needed[key] = referenced[key]
        return needed

    async def _missing_versions(self, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for group in groups(versions):
            missing = await missing_revs(self.couch, self.db(VERSIONS_DATABASE), group)
            out.extend(v for v in group if v["_rev"] in missing.get(v["_id"], set()))
        return out

    def _check_schema(self, doctype: str, doc: dict[str, Any], where: str) -> None:
        try:
            self.schemas.validate(doctype, {k: v for k, v in doc.items() if not k.startswith("_")})
        except InvalidDocument as invalid:
            raise ArchiveRejected(
                f"{where}: {doc['_id'][:40]!r} is not a valid {doctype}: {invalid.reason}"
            ) from None

    # -- pass 2 ------------------------------------------------------------------------------

    async def _apply(self, plan: _Plan) -> None:
        await self.vfs.usage.check_room(self.instance, plan.report.bytes_to_store)
        # A fresh instance takes the archive's root and trash with their histories before
        # the VFS makes its own (which it then finds in place).
        fixed = [e for e in plan.entries if e.id in _FIXED_DIRS and e.action == "add"]
        await write_revisions(
            self.couch, self.db(FILES_DATABASE), [leaf for e in fixed for leaf in e.missing]
        )
        await self.vfs.ensure(self.instance)
        self.progress.stage("importing", plan.report.bytes_to_store, "B")
        with tempfile.TemporaryDirectory(prefix=".roost-import-") as spool_dir:
            for member in ArchiveReader(
                self.path, max_member_bytes=self.max_member_bytes, expected=plan.manifest
            ):
                meaning = member.meaning
                if meaning.kind == "blob":
                    key = (meaning.file_id, meaning.internal_id)
                    if key in plan.needed_blobs:
                        await self._store_blob(member, plan.needed_blobs[key])
                    else:
                        member.check()
                elif meaning.database in (FILES_DATABASE, VERSIONS_DATABASE):
                    member.check()  # held in memory since pass 1
                else:
                    await self._import_documents(member, Path(spool_dir))
        try:
            await self._apply_files(plan)
            await write_revisions(
                self.couch,
                self.db(VERSIONS_DATABASE),
                await self._missing_versions(plan.versions),
            )
        finally:
            self.vfs.forget_cached(self.instance)
            await self.vfs.usage.usage(self.instance, fresh=True)

    async def _import_documents(self, member: Member, spool_dir: Path) -> None:
        """Spool the member, check it against the manifest, then add what is missing."""
        spool = spool_dir / "documents.ndjson"
        # A local spool file: blocking reads and writes of one member, from the CLI.
        with open(spool, "wb") as out:  # noqa: ASYNC230
            for line in iter_lines(member.stream, member.name):
                out.write(line + b"\n")
        member.check()
        db = self.db(member.meaning.database)
        with open(spool, "rb") as source:  # noqa: ASYNC230
            docs = (check_document_line(line, member.name) for line in iter_lines(source, ""))
            for group in groups(docs):
                missing = await missing_revs(self.couch, db, group)
                await write_revisions(
                    self.couch, db, [d for d in group if d["_rev"] in missing.get(d["_id"], ())]
                )
        spool.unlink()

    async def _store_blob(self, member: Member, md5sum: str) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            # Reading the archive blocks briefly per MiB; an import runs from the CLI.
            while data := member.stream.read(1024 * 1024):
                self.progress.advance(len(data))
                yield data

        staged = await self.vfs.stage(self.instance, chunks(), size=member.size, md5sum=md5sum)
        async with staged:
            member.check()
            await self.vfs.blobs.commit(
                staged, self.instance.domain, member.meaning.file_id, member.meaning.internal_id
            )

    async def _apply_files(self, plan: _Plan) -> None:
        db = self.db(FILES_DATABASE)
        paths: dict[str, str] = {ROOT_DIR_ID: "/"}
        for entry in plan.entries:
            if entry.id in _FIXED_DIRS:
                continue
            if entry.action == "unchanged":
                if entry.is_dir:
                    current = await self.couch.get_doc_or_none(db, entry.id)
                    if current is not None:
                        paths[entry.id] = str(current.get("path") or "/")
                continue
            if entry.action == "add":
                name = await self._claim(entry, entry.parent_id, entry.name)
                try:
                    await write_revisions(self.couch, db, entry.missing)
                except BaseException:
                    await self.vfs.release_name(self.instance, entry.parent_id, name, entry.id)
                    raise
                parent_id = entry.parent_id
            else:
                await write_revisions(self.couch, db, entry.missing)
                current = await self.couch.get_doc(db, entry.id)
                parent_id = str(current.get("dir_id") or ROOT_DIR_ID)
                name = await self._claim(entry, parent_id, str(current.get("name")))
            settled = await self._settle(entry, parent_id, name, paths)
            if entry.is_dir:
                paths[entry.id] = str(settled.get("path") or "/")

    async def _claim(self, entry: _Entry, parent_id: str, name: str) -> str:
        """Reserve `name` (or the next `(imported)` name) in `parent_id` for the entry."""
        original = name
        for attempt in range(_MAX_RENAMES):
            candidate = (
                original if attempt == 0 else imported_name(original, attempt, is_dir=entry.is_dir)
            )
            try:
                await self.vfs.reserve_name(self.instance, parent_id, candidate, entry.id)
                return candidate
            except NameTaken:
                continue
        raise BadRequest(f"no free name for {original!r} after {_MAX_RENAMES} attempts")

    async def _settle(
        self, entry: _Entry, parent_id: str, name: str, paths: dict[str, str]
    ) -> dict[str, Any]:
        """One more revision when the stored winner is not where the import placed it."""
        db = self.db(FILES_DATABASE)
        for _ in range(10):
            current = await self.couch.get_doc(db, entry.id)
            wanted: dict[str, Any] = {"dir_id": parent_id, "name": name}
            if current.get("type") == "directory":
                parent_path = paths.get(parent_id)
                if parent_path is None:
                    parent = await self.couch.get_doc_or_none(db, parent_id)
                    parent_path = str((parent or {}).get("path") or "/")
                wanted["path"] = join_path(parent_path, name)
            if all(current.get(key) == value for key, value in wanted.items()):
                return current
            current.update(wanted)
            try:
                await self.couch.put_doc(db, current)
                return current
            except RoostError:
                await asyncio.sleep(0)
        raise ImportFailed(f"could not place {name!r}: the file kept changing")


async def import_archive(
    couch: CouchClient,
    vfs: VFS,
    instance: Instance,
    path: Path,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    schemas: SchemaRegistry | None = None,
) -> ImportReport:
    importer = Importer(
        couch,
        vfs,
        instance,
        path,
        progress=progress,
        max_member_bytes=max_member_bytes,
        schemas=schemas,
    )
    return await importer.run(dry_run=dry_run)
