"""``roost.apps.services`` Protocols implemented over the stack's services, bound to an instance.

Host functions have already checked the grant; these adapters only translate: the stack's
errors become the runtime's ``ServiceError`` codes, and every write is stamped with the app.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from roost import errors
from roost.access_log import AccessEntry as StackAccessEntry
from roost.access_log import AccessLog
from roost.apps.services import AccessEntry, Conflict, Invalid, NotFound, ServiceError, TooLarge
from roost.documents import DocumentService
from roost.instances import Instance
from roost.notifications import Notifications
from roost.outbox import Outbox, app_view
from roost.permissions import FileTarget
from roost.types import JSONDoc
from roost.vfs import VFS, FileDoc
from roost.vfs.mime import guess_mime

__all__ = [
    "CouchDataService",
    "InstanceAccessLog",
    "InstanceNotifier",
    "InstanceOutbox",
    "VfsFileService",
]

ChangeHook = Callable[[Instance, str, str, JSONDoc], Awaitable[None]]


def _translate(exc: errors.RoostError) -> ServiceError:
    if isinstance(exc, errors.NotFound):
        return NotFound(exc.reason)
    if isinstance(exc, errors.Conflict | errors.PreconditionFailed):
        return Conflict(exc.reason)
    if isinstance(exc, errors.PayloadTooLarge):
        return TooLarge(exc.reason)
    if isinstance(exc, errors.BadRequest):
        return Invalid(exc.reason)
    if isinstance(exc, errors.StoreUnavailable):
        return ServiceError(exc.reason, code="unavailable")
    return ServiceError(exc.reason, code=exc.error)


# What `_bulk_docs` says per document, as the codes a single write would have answered.
_BULK_ERRORS = {"conflict": "conflict", "forbidden": "forbidden", "not_found": "not_found"}


def _row_error(doc_id: Any, error: ServiceError) -> JSONDoc:
    row: JSONDoc = {"error": error.code, "message": str(error)}
    if isinstance(doc_id, str):
        row["id"] = doc_id
    return row


class CouchDataService:
    """DataService over :class:`roost.documents.DocumentService` for one instance."""

    def __init__(
        self, documents: DocumentService, instance: Instance, on_change: ChangeHook | None = None
    ) -> None:
        self.documents = documents
        self.instance = instance
        self.on_change = on_change

    async def _changed(self, doctype: str, verb: str, doc: JSONDoc) -> None:
        if self.on_change is not None:
            await self.on_change(self.instance, doctype, verb, doc)

    async def get(self, doctype: str, doc_id: str) -> JSONDoc:
        try:
            return await self.documents.get(self.instance, doctype, doc_id)
        except errors.RoostError as exc:
            raise _translate(exc) from None

    async def find(
        self,
        doctype: str,
        selector: Mapping[str, Any],
        *,
        limit: int,
        skip: int = 0,
        sort: Sequence[Any] | None = None,
    ) -> list[JSONDoc]:
        query: JSONDoc = {"selector": dict(selector), "limit": limit, "skip": skip}
        if sort:
            query["sort"] = list(sort)
        try:
            result = await self.documents.find(self.instance, doctype, query)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        docs: list[JSONDoc] = result.get("docs", [])
        return docs

    async def create(self, doctype: str, doc: Mapping[str, Any], *, app: str) -> JSONDoc:
        body = dict(doc)
        doc_id = body.pop("_id", None)
        try:
            prepared = self.documents.prepare_new(doctype, body, app_slug=app, doc_id=doc_id)
            if doc_id is not None:
                existing = await self.documents.get_or_none(self.instance, doctype, doc_id)
                if existing is not None:
                    raise errors.Conflict(f"document {doc_id} already exists")
            saved = await self.documents.save(self.instance, doctype, prepared)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        await self._changed(doctype, "CREATED", saved)
        return saved

    async def update(self, doctype: str, doc: Mapping[str, Any], *, app: str) -> JSONDoc:
        body = dict(doc)
        doc_id = str(body.get("_id", ""))
        try:
            previous = await self.documents.get(self.instance, doctype, doc_id)
            prepared = self.documents.prepare_update(doctype, doc_id, body, previous, app_slug=app)
            saved = await self.documents.save(self.instance, doctype, prepared)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        await self._changed(doctype, "UPDATED", saved)
        return saved

    async def delete(self, doctype: str, doc_id: str, rev: str, *, app: str) -> JSONDoc:
        try:
            new_rev = await self.documents.delete(self.instance, doctype, doc_id, rev)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        await self._changed(doctype, "DELETED", {"_id": doc_id, "_rev": new_rev, "_deleted": True})
        return {"id": doc_id, "rev": new_rev, "ok": True}

    async def get_many(self, doctype: str, doc_ids: Sequence[str]) -> dict[str, JSONDoc]:
        try:
            answer = await self.documents.couch.all_docs(
                self.instance.db(doctype), keys=list(doc_ids), params={"include_docs": True}
            )
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return {
            str(row["id"]): row["doc"]
            for row in answer.get("rows", [])
            if isinstance(row.get("doc"), dict)
        }

    async def create_many(
        self, doctype: str, docs: Sequence[Mapping[str, Any]], *, app: str
    ) -> list[JSONDoc]:
        def prepare(doc: Mapping[str, Any]) -> JSONDoc:
            body = dict(doc)
            doc_id = body.pop("_id", None)
            return self.documents.prepare_new(doctype, body, app_slug=app, doc_id=doc_id)

        return await self._write_many(doctype, [(doc, prepare) for doc in docs], "CREATED")

    async def update_many(
        self, doctype: str, updates: Sequence[tuple[Mapping[str, Any], JSONDoc]], *, app: str
    ) -> list[JSONDoc]:
        def prepare(doc: Mapping[str, Any], previous: JSONDoc) -> JSONDoc:
            doc_id = str(doc.get("_id", ""))
            return self.documents.prepare_update(doctype, doc_id, dict(doc), previous, app_slug=app)

        return await self._write_many(
            doctype,
            [(doc, functools.partial(prepare, previous=previous)) for doc, previous in updates],
            "UPDATED",
        )

    async def _write_many(
        self,
        doctype: str,
        writes: Sequence[tuple[Mapping[str, Any], Callable[[Mapping[str, Any]], JSONDoc]]],
        verb: str,
    ) -> list[JSONDoc]:
        """Each document validated and stamped (`prepare`); one `_bulk_docs` for those that
        passed. Each document gets its own row."""
        prepared: list[JSONDoc | None] = []
        rows: list[JSONDoc | None] = []
        for doc, prepare in writes:
            try:
                prepared.append(prepare(doc))
                rows.append(None)
            except errors.RoostError as exc:
                prepared.append(None)
                rows.append(_row_error(doc.get("_id"), _translate(exc)))
        batch = [doc for doc in prepared if doc is not None]
        answers: list[JSONDoc] = []
        if batch:
            try:
                answers = await self.documents.couch.bulk_docs(self.instance.db(doctype), batch)
            except errors.RoostError as exc:
                raise _translate(exc) from None
        written = iter(zip(batch, answers, strict=True))
        out: list[JSONDoc] = []
        for ready, row in zip(prepared, rows, strict=True):
            if row is not None or ready is None:
                out.append(row or {})
                continue
            saved, answer = next(written)
            if "error" in answer:
                code = _BULK_ERRORS.get(str(answer["error"]), "invalid")
                out.append(
                    _row_error(saved["_id"], ServiceError(str(answer.get("reason", "")), code=code))
                )
                continue
            saved["_rev"] = str(answer["rev"])
            await self._changed(doctype, verb, saved)
            out.append({"ok": True, "id": saved["_id"], "rev": saved["_rev"]})
        return out

    async def changes_since(self, doctype: str, since: str, *, limit: int) -> JSONDoc:
        db = self.instance.db(doctype)
        from roost.couch import quote_db

        response = await self.documents.couch.request(
            "GET",
            f"/{quote_db(db)}/_changes",
            params={"since": since or "0", "limit": limit, "include_docs": "true"},
        )
        if response.status_code == 404:
            return {"results": [], "last_seq": since or "0"}
        if response.status_code >= 400:
            raise ServiceError(f"changes feed failed ({response.status_code})", code="unavailable")
        feed = response.json()
        results = []
        for row in feed.get("results", []):
            doc_id = str(row.get("id", ""))
            if doc_id.startswith("_design/"):
                continue
            entry: JSONDoc = {"id": doc_id, "seq": str(row.get("seq", ""))}
            if row.get("deleted"):
                entry["deleted"] = True
            elif isinstance(row.get("doc"), dict):
                entry["doc"] = row["doc"]
            results.append(entry)
        return {"results": results, "last_seq": str(feed.get("last_seq", since))}


class VfsFileService:
    """FileService over the VFS for one instance."""

    def __init__(self, vfs: VFS, instance: Instance) -> None:
        self.vfs = vfs
        self.instance = instance
        self.targets = vfs.targets(instance)

    async def _lookup(self, path: str) -> FileDoc:
        try:
            return await self.vfs.lookup(self.instance, path or "/", targets=self.targets)
        except errors.RoostError as exc:
            raise _translate(exc) from None

    async def target(self, path: str) -> FileTarget:
        doc = await self._lookup(path)
        target: FileTarget = await self.targets.for_doc(doc)
        return target

    async def list_dir(self, path: str) -> list[JSONDoc]:
        doc = await self._lookup(path)
        try:
            children = await self.vfs.list_dir(self.instance, doc)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return [dict(child.doc) for child in children if not child.is_trash_dir]

    async def read(self, path: str, *, max_bytes: int) -> tuple[JSONDoc, bytes]:
        doc = await self._lookup(path)
        try:
            content = await self.vfs.open(self.instance, doc)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        if content.size > max_bytes:
            raise TooLarge(f"{path} is {content.size} bytes, over the {max_bytes}-byte cap")
        try:
            data = b"".join([chunk async for chunk in content.chunks()])
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return dict(doc.doc), data

    async def write(self, path: str, data: bytes, *, mime: str | None, app: str) -> JSONDoc:
        parent_path, _, name = path.rstrip("/").rpartition("/")
        parent = await self._lookup(parent_path or "/")
        guessed = mime or guess_mime(name)

        async def chunks() -> Any:
            yield data

        try:
            existing = await self.vfs.child(self.instance, parent, name)
            content = await self.vfs.stage(self.instance, chunks(), size=len(data))
            async with content:
                if existing is None:
                    saved = await self.vfs.create_file(
                        self.instance, parent, name, content, mime=guessed, app_slug=app
                    )
                else:
                    saved = await self.vfs.overwrite_file(
                        self.instance, existing, content, mime=guessed, app_slug=app
                    )
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return dict(saved.doc)


class InstanceNotifier:
    """An app's ``notify``: a notification raised through ``roost.notifications`` (the one
    way), with the app as its source."""

    def __init__(self, notifications: Notifications, instance: Instance) -> None:
        self.notifications = notifications
        self.instance = instance

    async def notify(self, app: str, title: str, message: str) -> JSONDoc:
        try:
            made = await self.notifications.create(
                self.instance, source=app, title=title, message=message, category="app"
            )
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return {"id": made.id}


class InstanceOutbox:
    """OutboxService: an app's proposals go to the person's outbox (``roost.outbox``).

    The host call has checked the grant and shaped the proposal; an app reads back only its
    own proposals (another app's answers ``not_found``, like a missing one).
    """

    def __init__(self, outbox: Outbox, instance: Instance) -> None:
        self.outbox = outbox
        self.instance = instance

    async def propose(self, app: str, proposal: Mapping[str, Any]) -> JSONDoc:
        now = datetime.now(UTC)
        try:
            doc = await self.outbox.propose(self.instance, {**proposal, "app": app}, now=now)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return app_view(doc, now)

    async def get(self, app: str, proposal_id: str) -> JSONDoc:
        try:
            doc = await self.outbox.get(self.instance, proposal_id)
        except errors.RoostError as exc:
            raise _translate(exc) from None
        if doc.get("app") != app:
            raise NotFound("missing")
        return app_view(doc, datetime.now(UTC))

    async def list(
        self, app: str, *, state: str | None, reference: str | None, limit: int
    ) -> list[JSONDoc]:
        now = datetime.now(UTC)
        try:
            docs = await self.outbox.list(
                self.instance, app=app, state=state, reference=reference, now=now, limit=limit
            )
        except errors.RoostError as exc:
            raise _translate(exc) from None
        return [app_view(doc, now) for doc in docs]


#: Access-log entries one run may write (its host calls are already aggregated by kind).
MAX_ENTRIES_PER_RUN = 20


def _describe(e: AccessEntry) -> str:
    what = f"{e.interface}.{e.function}"
    if not e.allowed:
        target = f" of {e.doctype}" if e.doctype else ""
        return f"{what}: refused {e.calls:,} call(s){target} ({e.error})"
    suffix = f" ({e.error})" if e.error else ""
    return f"{what}: {e.calls:,} call(s){suffix}"


class InstanceAccessLog:
    """AccessLogSink: one ``io.roost.access`` entry per run and kind of host call.

    A run's calls arrive aggregated (a flood of 49,213 refused reads is one entry saying
    so); past ``MAX_ENTRIES_PER_RUN`` kinds the rest are folded into one more entry.
    """

    def __init__(self, access_log: AccessLog, instance: Instance) -> None:
        self.access_log = access_log
        self.instance = instance

    async def record(self, entries: Sequence[AccessEntry]) -> None:
        entries = list(entries)
        if len(entries) > MAX_ENTRIES_PER_RUN:
            rest = entries[MAX_ENTRIES_PER_RUN - 1 :]
            first = rest[0]
            folded = AccessEntry(
                at=first.at,
                app=first.app,
                interface="*",
                function="*",
                verb="*",
                doctype="",
                allowed=all(e.allowed for e in rest),
                count=sum(e.count for e in rest),
                bytes=sum(e.bytes for e in rest),
                error=f"{len(rest)} more kinds of call",
                job_id=first.job_id,
                calls=sum(e.calls for e in rest),
            )
            entries = [*entries[: MAX_ENTRIES_PER_RUN - 1], folded]
        for e in entries:
            status = 200 if e.error is None else (403 if not e.allowed else 400)
            if e.error == "not_found" and e.allowed:
                status = 404
            self.access_log.record(
                self.instance,
                StackAccessEntry(
                    principal=f"app:{e.app}",
                    verb=e.verb,
                    doctype=e.doctype or None,
                    app=e.app,
                    ids=list(e.ids),
                    count=e.count,
                    calls=e.calls,
                    bytes_out=e.bytes if e.interface != "http" else 0,
                    bytes_in=e.bytes if e.interface == "http" else 0,
                    egress_host=e.egress_host,
                    path=_describe(e) + (f" job {e.job_id}" if e.job_id else ""),
                    status=status,
                ),
            )
