"""Owner login sessions, stored in the instance's `io.cozy.sessions` database.

The cookie carries a random session id; the database holds only its SHA-256, so a reader
of the database cannot replay a session. A session is bound to the instance's security
stamp: changing the stamp (passphrase change, "log out everywhere") ends them all.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from roost.couch import CouchClient
from roost.instances import Instance

SESSIONS_DOCTYPE = "io.cozy.sessions"
COOKIE_NAME = "roost_session"


@dataclass(frozen=True)
class Session:
    id: str
    doc_id: str
    expires_at: datetime


@dataclass(frozen=True)
class OpenSession:
    """What the owner sees of one of their sessions (never its id, only its hash's head)."""

    doc_id: str
    created_at: str
    expires_at: str
    user_agent: str
    current: bool


def _doc_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(instance: Instance, session_id: str) -> str:
    """A per-session token for forms; derived, so nothing more is stored."""
    return hmac.new(instance.secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


class SessionService:
    def __init__(self, couch: CouchClient, ttl_seconds: int) -> None:
        self.couch = couch
        self.ttl = timedelta(seconds=ttl_seconds)

    async def open(self, instance: Instance, user_agent: str = "") -> Session:
        session_id = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires_at = now + self.ttl
        await self.couch.put_doc(
            instance.db(SESSIONS_DOCTYPE),
            {
                "_id": _doc_id(session_id),
                "created_at": now.isoformat(),
                "expires_at": expires_at.isoformat(),
                "stamp": instance.stamp,
                "user_agent": user_agent[:200],
            },
        )
        return Session(id=session_id, doc_id=_doc_id(session_id), expires_at=expires_at)

    async def find(self, instance: Instance, session_id: str) -> Session | None:
        if not session_id or len(session_id) > 100:
            return None
        doc = await self.couch.get_doc_or_none(instance.db(SESSIONS_DOCTYPE), _doc_id(session_id))
        if doc is None or doc.get("stamp") != instance.stamp:
            return None
        expires_at = datetime.fromisoformat(doc["expires_at"])
        if expires_at <= datetime.now(UTC):
            return None
        return Session(id=session_id, doc_id=doc["_id"], expires_at=expires_at)

    async def close(self, instance: Instance, session_id: str) -> None:
        db = instance.db(SESSIONS_DOCTYPE)
        doc = await self.couch.get_doc_or_none(db, _doc_id(session_id))
        if doc is not None:
            await self.couch.delete_doc(db, doc["_id"], doc["_rev"])

    async def list_open(self, instance: Instance, current_session_id: str) -> list[OpenSession]:
        """The instance's sessions still valid (current stamp, not expired), newest first."""
        current = _doc_id(current_session_id)
        now = datetime.now(UTC)
        result = await self.couch.all_docs(
            instance.db(SESSIONS_DOCTYPE), params={"include_docs": True}
        )
        sessions = []
        for row in result["rows"]:
            doc = row.get("doc")
            if not doc or row["id"].startswith("_design/") or doc.get("stamp") != instance.stamp:
                continue
            if datetime.fromisoformat(doc["expires_at"]) <= now:
                continue
            sessions.append(
                OpenSession(
                    doc_id=doc["_id"],
                    created_at=doc.get("created_at", ""),
                    expires_at=doc["expires_at"],
                    user_agent=doc.get("user_agent", ""),
                    current=doc["_id"] == current,
                )
            )
        sessions.sort(key=lambda s: s.created_at, reverse=True)
        return sessions

    async def keep_only(self, instance: Instance, session_id: str) -> int:
        """Close every session but `session_id`, which is bound to the instance's stamp.

        After a passphrase change the stamp is new: rebinding keeps the person who changed
        it signed in while every other session (and token) stops working. Returns how many
        sessions were closed.
        """
        db = instance.db(SESSIONS_DOCTYPE)
        kept = _doc_id(session_id)
        result = await self.couch.all_docs(db, params={"include_docs": True})
        closing = []
        for row in result["rows"]:
            doc = row.get("doc")
            if not doc or row["id"].startswith("_design/"):
                continue
            if doc["_id"] == kept:
                if doc.get("stamp") != instance.stamp:
                    await self.couch.put_doc(db, {**doc, "stamp": instance.stamp})
                continue
            closing.append({"_id": doc["_id"], "_rev": doc["_rev"], "_deleted": True})
        if closing:
            await self.couch.bulk_docs(db, closing)
        return len(closing)
