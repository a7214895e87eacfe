"""The runs of each connector, as Collect shows them, and the notification of a failure.

One document per attempt in the instance's ``io.roost.connector.runs`` database (a stack
doctype: written here only)::

    {"slug": "bank-connector", "account": "<account id>" | null, "job_id": "...",
     "attempt": 1, "manual": true, "started_at": ISO, "finished_at": ISO,
     "outcome": {"code": "LOGIN_FAILED", "values": {}}, "message": "<the connector's words>",
     "data": {"io.cozy.bank.operations": {"created": 6, "updated": 0, "deleted": 0}}}

The last :data:`KEEP_RUNS` runs of a connector are kept. A failure raises one notification
(category ``connector_failed``, linking to ``/collect/<slug>``) when it starts a failure
streak - the run before it succeeded, or there was none - so a connector failing every
night, or retried, does not notify again until it has worked once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from roost.appstore.outcomes import Outcome
from roost.couch import CouchClient
from roost.instances import Instance
from roost.notifications import Notifications, Words

__all__ = ["KEEP_RUNS", "RUNS_DOCTYPE", "ConnectorRun", "ConnectorRuns"]

RUNS_DOCTYPE: Final = "io.roost.connector.runs"
KEEP_RUNS: Final = 50
MAX_MESSAGE_CHARS: Final = 500
# Enough to see every run of every connector an instance may have, newest kept.
_SCAN_LIMIT: Final = 5000


@dataclass(frozen=True)
class ConnectorRun:
    id: str
    slug: str
    outcome: Outcome
    started_at: str
    finished_at: str
    account_id: str | None = None
    job_id: str | None = None
    attempt: int = 1
    manual: bool = True
    message: str = ""
    data: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ConnectorRun:
        data = doc.get("data")
        account = doc.get("account")
        job_id = doc.get("job_id")
        attempt = doc.get("attempt")
        return cls(
            id=str(doc["_id"]),
            slug=str(doc.get("slug", "")),
            outcome=Outcome.from_json(doc.get("outcome")),
            started_at=str(doc.get("started_at", "")),
            finished_at=str(doc.get("finished_at", "")),
            account_id=account if isinstance(account, str) else None,
            job_id=job_id if isinstance(job_id, str) else None,
            attempt=attempt if isinstance(attempt, int) else 1,
            manual=bool(doc.get("manual", True)),
            message=str(doc.get("message") or ""),
            data=data if isinstance(data, Mapping) else {},
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "slug": self.slug,
            "account": self.account_id,
            "job_id": self.job_id,
            "attempt": self.attempt,
            "manual": self.manual,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "outcome": self.outcome.to_json(),
            "message": self.message[:MAX_MESSAGE_CHARS],
            "data": {k: dict(v) for k, v in self.data.items()},
        }


def _newest_first(docs: list[Mapping[str, Any]]) -> list[ConnectorRun]:
    runs = [ConnectorRun.from_doc(d) for d in docs if "slug" in d and "outcome" in d]
    return sorted(runs, key=lambda r: (r.finished_at, r.id), reverse=True)


class ConnectorRuns:
    def __init__(self, couch: CouchClient, notifications: Notifications | None = None) -> None:
        self.couch = couch
        self.notifications = notifications

    async def recent(self, instance: Instance, slug: str, limit: int = 10) -> list[ConnectorRun]:
        """The connector's last runs, newest first."""
        found = await self.couch.find(
            instance.db(RUNS_DOCTYPE), {"selector": {"slug": slug}, "limit": _SCAN_LIMIT}
        )
        return _newest_first(found.get("docs", []))[:limit]

    async def last_of_each(self, instance: Instance) -> dict[str, ConnectorRun]:
        """The last run of every connector that ran."""
        found = await self.couch.find(
            instance.db(RUNS_DOCTYPE),
            {"selector": {"slug": {"$exists": True}}, "limit": _SCAN_LIMIT},
        )
        last: dict[str, ConnectorRun] = {}
        for run in _newest_first(found.get("docs", [])):
            last.setdefault(run.slug, run)
        return last

    async def record(
        self,
        instance: Instance,
        *,
        slug: str,
        name: str,
        outcome: Outcome,
        started_at: str,
        account_id: str | None = None,
        job_id: str | None = None,
        attempt: int = 1,
        manual: bool = True,
        message: str = "",
        data: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ConnectorRun:
        """Keep the run; notify the person when it starts a failure streak."""
        history = await self.recent(instance, slug, limit=_SCAN_LIMIT)
        run = ConnectorRun(
            id=uuid.uuid4().hex,
            slug=slug,
            outcome=outcome,
            started_at=started_at,
            finished_at=datetime.now(UTC).isoformat(),
            account_id=account_id,
            job_id=job_id,
            attempt=attempt,
            manual=manual,
            message=message,
            data=data or {},
        )
        db = instance.db(RUNS_DOCTYPE)
        await self.couch.put_doc(db, run.to_doc())
        for old in history[KEEP_RUNS - 1 :]:
            doc = await self.couch.get_doc_or_none(db, old.id)
            if doc is not None:
                await self.couch.delete_doc(db, old.id, doc["_rev"])
        starts_streak = not history or history[0].ok
        if not outcome.ok and starts_streak and self.notifications is not None:
            await self.notifications.create(
                instance,
                source=slug,
                title=Words(
                    "%(name)s: %(problem)s",
                    {"name": name, "problem": Words(outcome.title, outcome.values)},
                ),
                message=Words(outcome.advice),
                category="connector_failed",
                link=f"/collect/{slug}",
            )
        return run

    async def delete_all(self, instance: Instance, slug: str) -> None:
        db = instance.db(RUNS_DOCTYPE)
        found = await self.couch.find(db, {"selector": {"slug": slug}, "limit": _SCAN_LIMIT})
        for doc in found.get("docs", []):
            await self.couch.delete_doc(db, doc["_id"], doc["_rev"])
