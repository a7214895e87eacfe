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
