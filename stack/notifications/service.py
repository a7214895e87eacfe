"""Raising, listing and reading notifications.

One document per notification in the instance's `io.cozy.notifications` database:

    {"source": "stack" | "<app slug>", "category": one of CATEGORIES,
     "title": "...", "message": "...", "link": "/collect/bank-connector" | null,
     "created_at": ISO-8601, "read_at": ISO-8601 | null}

`source` says who raised it (an app's slug, or "stack"); `link` is a path on the person's
own origin that the bell and Home open. Titles and messages are plain words for the person.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from roost.couch import CouchClient
from roost.errors import BadRequest
from roost.instances import Instance

NOTIFICATIONS_DOCTYPE: Final = "io.cozy.notifications"
#: What a notification is about; the pages pick an icon and words from it.
CATEGORIES: Final = frozenset(
    {"info", "app", "alert", "connector_failed", "outbox", "update", "sharing"}
)
MAX_TITLE: Final = 200
MAX_MESSAGE: Final = 4000


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

    async def create(
        self,
        instance: Instance,
        *,
        source: str,
        title: str,
        message: str = "",
        category: str = "info",
        link: str | None = None,
    ) -> Notification:
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
        return Notification.from_doc(doc)
