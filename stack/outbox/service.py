"""The person's outbox: proposals wait here; only the person's approval sends one, once.

- ``propose`` stores an app's proposal (already shaped and permission-checked by the host
  call, `roost.apps.host.outbox`) and raises an ``outbox`` notification linking to it.
- ``approve`` makes one **conditional** transition ``proposed → sending`` on the stored
  document, with the revision the person was shown (an exclusive CouchDB write: of two
  clicks, two tabs or two stack processes, exactly one wins; a proposal changed since it was
  shown is refused). Only the winner sends, from the host, through the egress fetcher
  (address checks, the destination as the only allowed origin, redirects re-checked), then
  records the answer and an access-log entry.
- ``refuse`` makes ``proposed → refused``; a proposal past its ``expires_at`` is expired
  and can no longer be approved. Neither ever sends anything.

Before approving, the proposing app must still be installed and its current grant must
still cover the destination (``ProposerGrants``). Once a proposal is decided for good, the
``answered`` hooks run (the stack queues a run of the app, which reads the answer).

A crash between the transition and the answer leaves the proposal ``sending``: it is never
sent again (at most once, never twice).
"""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from roost.access_log import AccessEntry, AccessLog
from roost.apps.services import FetchRequest, HttpFetcher, ServiceError
from roost.couch import CouchClient
from roost.errors import Conflict
from roost.instances import Instance
from roost.notifications import Notifications, Words
from roost.outbox.errors import (
    AlreadyDecided,
    ProposalChanged,
    ProposalExpired,
    ProposalNotFound,
    ProposerRevoked,
)
from roost.outbox.proposals import OUTBOX_DOCTYPE, body_bytes, effective_state
from roost.permissions import DocumentTarget, PermissionSet, decide
from roost.permissions.egress import parse_url_origin
from roost.types import JSONDoc

__all__ = ["MAX_ANSWER_BYTES", "AnswerHook", "Outbox", "ProposerGrants"]

log = logging.getLogger("roost.outbox")

#: The destination's answer kept for the app (the rest is dropped, and said so).
MAX_ANSWER_BYTES: Final = 256 * 1024
_STATE_WORDS: Final = {
    "sending": "approved and is being sent",
    "sent": "sent",
    "failed": "approved, but sending it failed",
    "refused": "refused",
    "expired": "expired",
}


def _answer(status: int, headers: Sequence[tuple[str, str]], body: bytes) -> dict[str, Any]:
    kept = body[:MAX_ANSWER_BYTES]
    answer: dict[str, Any] = {
        "status": status,
        "headers": {k.lower(): v for k, v in headers},
        "truncated": len(body) > len(kept),
    }
    try:
        answer["body"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        answer["body_base64"] = base64.b64encode(kept).decode("ascii")
    return answer


#: Told once a proposal is decided for good (sent, failed or refused), after it is stored:
#: the stack queues a run of the proposing app, which reads the answer then.
AnswerHook = Callable[[Instance, JSONDoc], Awaitable[None]]


class ProposerGrants(Protocol):
    """The current grant of an installed app (None once it is uninstalled or revoked)."""

    async def current_grant(self, instance: Instance, slug: str) -> PermissionSet | None: ...


class Outbox:
    """The outbox of every instance (one ``io.roost.outbox`` database per instance)."""

    def __init__(
        self,
        couch: CouchClient,
        notifications: Notifications,
        access_log: AccessLog,
        fetcher: HttpFetcher,
        grants: ProposerGrants | None = None,
    ) -> None:
        self.couch = couch
        self.notifications = notifications
        self.access_log = access_log
        self.fetcher = fetcher
        self.grants = grants
        self.answered: list[AnswerHook] = []

    # -- reading ------------------------------------------------------
    async def get(self, instance: Instance, proposal_id: str) -> JSONDoc:
        if not proposal_id or proposal_id.startswith("_") or len(proposal_id) > 100:
            raise ProposalNotFound("no such message in your outbox")
        doc = await self.couch.get_doc_or_none(instance.db(OUTBOX_DOCTYPE), proposal_id)
        if doc is None:
            raise ProposalNotFound("no such message in your outbox")
        return doc

    async def list(
        self,
        instance: Instance,
        *,
        app: str | None = None,
        state: str | None = None,
        reference: str | None = None,
        now: datetime,
        limit: int = 200,
    ) -> list[JSONDoc]:
        """Proposals, newest first; ``state`` is the effective one (expired included).

        One read of the whole database: an outbox holds the few messages apps asked to send,
        and expiry is judged against ``now``, which no stored index could do.
        """
        result = await self.couch.all_docs(
            instance.db(OUTBOX_DOCTYPE), params={"include_docs": "true"}
        )
        docs = [
            row["doc"]
            for row in result.get("rows", [])
            if isinstance(row.get("doc"), dict) and not str(row["id"]).startswith("_design/")
        ]
        docs = [
            d
            for d in docs
            if (app is None or d.get("app") == app)
            and (state is None or effective_state(d, now) == state)
            and (reference is None or d.get("reference") == reference)
        ]
        docs.sort(key=lambda d: str(d.get("created_at", "")), reverse=True)
        return docs[:limit]

    async def waiting_count(self, instance: Instance, *, now: datetime, limit: int = 100) -> int:
        """How many proposals wait for the person's decision (at most ``limit``): asked by
        every page (the navigation's count), so one ``_find`` of the waiting ones only."""
        found = await self.couch.find(
            instance.db(OUTBOX_DOCTYPE),
            {"selector": {"state": "proposed"}, "fields": ["state", "expires_at"], "limit": limit},
        )
        return sum(1 for doc in found.get("docs", []) if effective_state(doc, now) == "proposed")

    # -- proposing ------------------------------------------------------
    async def propose(self, instance: Instance, shaped: JSONDoc, *, now: datetime) -> JSONDoc:
        """Store a shaped proposal and tell the person; returns the stored document."""
        expires = now + timedelta(seconds=int(shaped["expires_in_seconds"]))
        doc: JSONDoc = {
            "_id": uuid.uuid4().hex,
            **{k: v for k, v in shaped.items() if k != "expires_in_seconds"},
            "state": "proposed",
            "created_at": now.isoformat(),
            "expires_at": expires.isoformat(),
            "decided_at": None,
            "sent_at": None,
            "answer": None,
            "error": None,
        }
        await self.couch.put_doc(instance.db(OUTBOX_DOCTYPE), doc)
        origin = parse_url_origin(str(doc["url"]))
        host = origin.host if origin is not None else str(doc["destination"])
        await self.notifications.create(
            instance,
            source=str(doc["app"]),
            title=Words(
                "%(app)s asks to send a message to %(host)s", {"app": str(doc["app"]), "host": host}
            ),
            message=Words(
                "%(summary)s — nothing leaves until you approve it.",
                {"summary": str(doc["summary"])},
            ),
            category="outbox",
            link=f"/outbox/{doc['_id']}",
        )
        return doc

    # -- deciding ------------------------------------------------------
    def _decided(self, state: str) -> AlreadyDecided:
        words = _STATE_WORDS.get(state, state)
        if state == "expired":
            return ProposalExpired(
                "This message expired before it was approved: it was not sent", state
            )
        return AlreadyDecided(f"This message was already {words}", state)

    async def _claim(
        self, instance: Instance, doc: JSONDoc, seen_rev: str, state: str, now: datetime
    ) -> JSONDoc:
        """The one conditional transition out of ``proposed``: exactly one caller wins."""
        db = instance.db(OUTBOX_DOCTYPE)
        current = effective_state(doc, now)
        if current == "expired" and doc.get("state") == "proposed":
            # Write the expiry down (whoever writes it first, the answer is the same).
            try:
                await self.couch.put_doc(
                    db, {**doc, "state": "expired", "decided_at": now.isoformat()}, exclusive=True
                )
            except Conflict:
                pass
        if current != "proposed":
            raise self._decided(current)
        if doc.get("_rev") != seen_rev:
            raise ProposalChanged(
                "This message changed since you saw it: look at it again before deciding"
            )
        claimed = {**doc, "state": state, "decided_at": now.isoformat()}
        try:
            await self.couch.put_doc(db, claimed, exclusive=True)
        except Conflict:
            latest = await self.get(instance, str(doc["_id"]))
            raise self._decided(effective_state(latest, now)) from None
        return claimed

    async def refuse(
        self, instance: Instance, proposal_id: str, *, seen_rev: str, now: datetime
    ) -> JSONDoc:
        doc = await self.get(instance, proposal_id)
        refused = await self._claim(instance, doc, seen_rev, "refused", now)
        await self._tell(instance, refused)
        return refused

    async def approve(
        self, instance: Instance, proposal_id: str, *, seen_rev: str, now: datetime
    ) -> JSONDoc:
        """Send the proposal once, if it is still the one the person saw and still waiting."""
        doc = await self.get(instance, proposal_id)
        await self._check_proposer(instance, doc, now)
        claimed = await self._claim(instance, doc, seen_rev, "sending", now)
        return await self._send(instance, claimed)

    async def _check_proposer(self, instance: Instance, doc: JSONDoc, now: datetime) -> None:
        """An app uninstalled, or no longer granted this destination, has its proposals
        withdrawn: the person's approval cannot revive what its grant no longer covers."""
        if self.grants is None or effective_state(doc, now) != "proposed":
            return
        grant = await self.grants.current_grant(instance, str(doc.get("app", "")))
        allowed = (
            grant is not None
            and decide(
                grant, "POST", OUTBOX_DOCTYPE, DocumentTarget(doc), now=now, surface="stack"
            ).allowed
        )
        if not allowed:
            raise ProposerRevoked(
                "The app that proposed this message was removed or may no longer send it "
                "there: it was not sent"
            )

    async def _send(self, instance: Instance, doc: JSONDoc) -> JSONDoc:
        body = body_bytes(doc)
        headers = tuple((str(k), str(v)) for k, v in dict(doc.get("headers") or {}).items())
        request = FetchRequest(str(doc["method"]), str(doc["url"]), headers, body)
        origin = parse_url_origin(str(doc["url"]))
        host = origin.host if origin is not None else None
        bytes_in, status = 0, 502
        try:
            # The approved destination is the only origin allowed, redirects included.
            response = await self.fetcher.fetch(request, [str(doc["destination"])])
        except ServiceError as exc:
            doc.update(state="failed", error=str(exc)[:500])
        except Exception as exc:  # never leave it `sending` with a 500: record the failure
            log.exception("outbox: sending %s failed", doc["_id"])
            doc.update(state="failed", error=f"internal error: {type(exc).__name__}")
        else:
            status, bytes_in = response.status, len(response.body)
            doc.update(
                state="sent",
                sent_at=datetime.now(UTC).isoformat(),
                answer=_answer(response.status, response.headers, response.body),
                error=None,
            )
        self.access_log.record(
            instance,
            AccessEntry(
                principal="owner",
                verb=str(doc["method"]),
                doctype=OUTBOX_DOCTYPE,
                app=str(doc.get("app")),
                ids=[str(doc["_id"])],
                count=1,
                bytes_out=len(body),
                bytes_in=bytes_in,
                egress_host=host,
                path=f"outbox: {doc['state']} {doc['method']} {doc['url']} (approved by you)"[:500],
                status=status,
            ),
        )
        # Written now, not with the next batch: a message that left must never miss its entry.
        await self.access_log.flush()
        await self.couch.put_doc(instance.db(OUTBOX_DOCTYPE), doc)
        await self._tell(instance, doc)
        return doc

    async def _tell(self, instance: Instance, doc: JSONDoc) -> None:
        for hook in self.answered:
            try:
                await hook(instance, doc)
            except Exception:  # the decision stands; the app still reads it on its next run
                log.exception("outbox: telling %s about %s failed", doc.get("app"), doc["_id"])
