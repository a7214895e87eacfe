"""Raising, listing and reading notifications.

One document per notification in the instance's `io.cozy.notifications` database:

    {"source": "stack" | "<app slug>", "category": one of CATEGORIES,
     "title": "...", "message": "...", "link": "/collect/bank-connector" | null,
     "created_at": ISO-8601, "read_at": ISO-8601 | null}

`source` says who raised it (an app's slug, or "stack"); `link` is a path on the person's
own origin that the bell and Home open. Titles and messages are plain words for the person:
the stack gives `Words` (`words.py`), said once, when the notification is raised, in the
instance's language (`language.py`); an app's own `notify` text is kept as it is.

When the operator configured SMTP (`smtp_*`) and the person asked for e-mail (their address
in `preferences.py`), `create` also queues a `notification-mail` job that sends it: never
on the request path, retried by the job runner when the SMTP server does not answer.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from roost.config import Config
from roost.couch import CouchClient
from roost.errors import BadRequest, Conflict, NotFound, RoostError
from roost.instances import Instance
from roost.notifications.language import InstanceLanguage
from roost.notifications.mail import MailSettings, compose, send
from roost.notifications.preferences import MailPreferences
from roost.notifications.words import Text, said

if TYPE_CHECKING:
    from roost.jobs import JobDoc, JobService

log = logging.getLogger("roost.notifications")

NOTIFICATIONS_DOCTYPE: Final = "io.cozy.notifications"
#: What a notification is about; the pages pick an icon and words from it.
CATEGORIES: Final = frozenset(
    {"info", "app", "alert", "connector_failed", "outbox", "update", "sharing"}
)
MAX_TITLE: Final = 200
MAX_MESSAGE: Final = 4000
MAIL_WORKER: Final = "notification-mail"
#: The unread count stops at this many (the bell then shows "99+").
MAX_UNREAD: Final = 100
MAX_LIST: Final = 200
_BY_DATE_INDEX: Final = {
    "index": {"fields": ["created_at"]},
    "name": "roost-notifications-by-date",
    "ddoc": "roost-notifications-by-date",
    "type": "json",
}
_UNREAD_INDEX: Final = {
    "index": {"fields": ["read_at"]},
    "name": "roost-notifications-unread",
    "ddoc": "roost-notifications-unread",
    "type": "json",
}


@dataclass(frozen=True)
class Notification:
    id: str
    source: str
    category: str
    title: str
    message: str
    link: str | None
    created_at: str
    read_at: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Notification:
        def text(key: str) -> str:
            value = doc.get(key)
            return value if isinstance(value, str) else ""

        link = doc.get("link")
        read_at = doc.get("read_at")
        return cls(
            id=str(doc["_id"]),
            source=text("source") or "stack",
            category=text("category") or "info",
            title=text("title") or text("message"),
            message=text("message") if text("title") else "",
            link=link if isinstance(link, str) and link.startswith("/") else None,
            created_at=text("created_at"),
            read_at=read_at if isinstance(read_at, str) else None,
        )


class Notifications:
    """The notifications of every instance (one CouchDB database per instance)."""

    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        self.preferences = MailPreferences(couch)
        self.language = InstanceLanguage(couch)
        self.mail: MailSettings | None = None
        self.jobs: JobService | None = None
        self._https = False
        self._port = 8080
        self._indexed: set[str] = set()

    def attach_jobs(self, jobs: JobService, config: Config) -> None:
        """Register the `notification-mail` worker (e-mail needs it and `smtp_*`)."""
        self.jobs = jobs
        self.mail = MailSettings.from_config(config)
        self._https = config.https
        self._port = config.port
        jobs.register_worker(
            MAIL_WORKER,
            self.run_mail_job,
            concurrency=1,
            timeout_seconds=max(config.smtp_timeout_seconds * 3, 10.0),
            max_attempts=5,
            backoff_seconds=30.0,
        )

    async def create(
        self,
        instance: Instance,
        *,
        source: str,
        title: Text,
        message: Text = "",
        category: str = "info",
        link: str | None = None,
    ) -> Notification:
        if not (isinstance(title, str) and isinstance(message, str)):
            # The stack's own words: said in the instance's language, and cut to fit (the
            # values — a label, an app's summary — may be long; the stack's words are not
            # refused for them).
            language = await self.language.get(instance)
            title = _fit(said(title, language), MAX_TITLE)
            message = _fit(said(message, language), MAX_MESSAGE)
        if not title or len(title) > MAX_TITLE or len(message) > MAX_MESSAGE:
            raise BadRequest(
                f"a notification needs a title of 1-{MAX_TITLE} characters "
                f"and a message of at most {MAX_MESSAGE}"
            )
        if category not in CATEGORIES:
            raise BadRequest(f"unknown notification category {category!r}")
        if link is not None and not link.startswith("/"):
            raise BadRequest("a notification's link is a path on the person's own origin")
        now = datetime.now(UTC).isoformat()
        doc: dict[str, Any] = {
            "_id": uuid.uuid4().hex,
            "source": source,
            "category": category,
            "title": title,
            "message": message,
            "link": link,
            "created_at": now,
            "read_at": None,
            "cozyMetadata": {"createdAt": now, "updatedAt": now, "createdByApp": source},
        }
        await self.couch.put_doc(instance.db(NOTIFICATIONS_DOCTYPE), doc)
        made = Notification.from_doc(doc)
        await self._queue_mail(instance, made)
        return made

    async def _queue_mail(self, instance: Instance, notification: Notification) -> None:
        if self.mail is None or self.jobs is None:
            return
        try:
            wanted = await self.preferences.get(instance)
            if wanted.enabled and wanted.address:
                await self.jobs.enqueue(instance, MAIL_WORKER, {"notification_id": notification.id})
        except RoostError as error:
            # The notification is stored and shown; only its e-mail is lost.
            log.warning("notification e-mail not queued", extra={"fields": {"error": error.reason}})

    async def run_mail_job(self, instance: Instance, job: JobDoc) -> dict[str, Any]:
        notification_id = job.message.get("notification_id")
        if not isinstance(notification_id, str) or self.mail is None:
            raise NotFound("the job names no notification, or no SMTP server is configured")
        notification = await self.get(instance, notification_id)
        wanted = await self.preferences.get(instance)
        if not (wanted.enabled and wanted.address):
            return {"sent": False, "reason": "the person no longer wants e-mail"}
        body = notification.message or notification.title
        if notification.link:
            scheme = "https" if self._https else "http"
            port = "" if self._https else f":{self._port}"
            body += f"\n\n{scheme}://{instance.domain}{port}{notification.link}"
        body += f"\n\n-- \n{instance.domain}"
        message = compose(self.mail, wanted.address, notification.title, body)
        # smtplib blocks (network, TLS): a thread, never the event loop.
        await asyncio.to_thread(send, self.mail, message)
        return {"sent": True}

    # -- reading and marking ---------------------------------------------------------

    async def _ensure_indexes(self, db: str) -> None:
        if db not in self._indexed:
            await self.couch.create_index(db, _BY_DATE_INDEX)
            await self.couch.create_index(db, _UNREAD_INDEX)
            self._indexed.add(db)

    async def get(self, instance: Instance, notification_id: str) -> Notification:
        """The notification, or NotFound."""
        if not notification_id or notification_id.startswith("_"):
            raise NotFound("missing")
        doc = await self.couch.get_doc(instance.db(NOTIFICATIONS_DOCTYPE), notification_id)
        return Notification.from_doc(doc)

    async def recent(self, instance: Instance, limit: int = 20) -> list[Notification]:
        """The newest notifications first, read or not."""
        db = instance.db(NOTIFICATIONS_DOCTYPE)
        if not await self.couch.db_exists(db):
            return []
        await self._ensure_indexes(db)
        answer = await self.couch.find(
            db,
            {
                "selector": {"created_at": {"$gt": ""}},
                "sort": [{"created_at": "desc"}],
                "use_index": "roost-notifications-by-date",
                "limit": min(max(limit, 1), MAX_LIST),
            },
        )
        return [Notification.from_doc(doc) for doc in answer.get("docs", [])]

    async def _unread_ids(self, instance: Instance, limit: int) -> list[str]:
        db = instance.db(NOTIFICATIONS_DOCTYPE)
        # Asked by every page (the bell): once the indexes are known, one request.
        if db not in self._indexed:
            if not await self.couch.db_exists(db):
                return []
            await self._ensure_indexes(db)
        answer = await self.couch.find(
            db,
            {
                "selector": {"read_at": None},
                "fields": ["_id"],
                "use_index": "roost-notifications-unread",
                "limit": limit,
            },
        )
        return [str(doc["_id"]) for doc in answer.get("docs", [])]

    async def unread_count(self, instance: Instance) -> int:
        """How many are unread, at most MAX_UNREAD."""
        return len(await self._unread_ids(instance, MAX_UNREAD))

    async def mark_read(self, instance: Instance, notification_id: str) -> Notification:
        """Mark one as read (already read: unchanged); NotFound when there is none."""
        if not notification_id or notification_id.startswith("_"):
            raise NotFound("missing")
        db = instance.db(NOTIFICATIONS_DOCTYPE)
        for _ in range(3):
            doc = await self.couch.get_doc(db, notification_id)
            if isinstance(doc.get("read_at"), str):
                return Notification.from_doc(doc)
            doc["read_at"] = datetime.now(UTC).isoformat()
            try:
                await self.couch.put_doc(db, doc)
            except Conflict:
                continue  # changed meanwhile (another tab): read again
            return Notification.from_doc(doc)
        raise Conflict("the notification kept changing; try again")

    async def mark_all_read(self, instance: Instance) -> int:
        """Mark every unread notification read; how many were."""
        marked = 0
        while True:
            ids = await self._unread_ids(instance, 500)
            if not ids:
                return marked
            db = instance.db(NOTIFICATIONS_DOCTYPE)
            rows = await self.couch.all_docs(db, keys=ids, params={"include_docs": True})
            now = datetime.now(UTC).isoformat()
            docs = []
            for row in rows.get("rows", []):
                doc = row.get("doc")
                if isinstance(doc, dict) and doc.get("read_at") is None:
                    doc["read_at"] = now
                    docs.append(doc)
            if not docs:
                return marked
            results = await self.couch.bulk_docs(db, docs)
            written = sum(1 for result in results if "rev" in result and "error" not in result)
            marked += written
            if written == 0:
                return marked


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
