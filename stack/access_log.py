"""The access log: who touched what, when, how much, and where data went.

Every token- or app-password-authenticated request, and every host call an app makes,
appends an entry to the instance's `io.roost.access` doctype. Entries are buffered and
written in batches (one `_bulk_docs` per instance per second at most), so logging never
adds a store round trip to a request. The owner reads them at `GET /settings/access-log`.

Writes are bounded per instance: at most `MAX_ENTRIES_PER_MINUTE` entries an instance per
minute. Past that, entries are counted, not written, and one summary entry ("dropped 1,234
entries") is written when the next minute opens, so a flood from one instance (an app's
host calls, a script's requests) can neither grow the log without bound nor slow the store
for other instances. App runs add one entry per kind of host call, not per call (see
`roost.appstore.adapters.InstanceAccessLog`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from roost.couch import CouchClient
from roost.errors import RoostError
from roost.instances import Instance

ACCESS_DOCTYPE = "io.roost.access"
FLUSH_DELAY_SECONDS = 1.0
MAX_BUFFERED = 500
MAX_IDS_PER_ENTRY = 20
MAX_ENTRIES_PER_MINUTE = 600
WINDOW_SECONDS = 60.0

log = logging.getLogger("roost.access_log")


@dataclass
class AccessEntry:
    principal: str  # "token:cli", "app-password:ab12…", "app:bank-connector"
    verb: str
    doctype: str | None
    app: str | None = None
    ids: list[str] = field(default_factory=list)
    count: int = 1
    bytes_out: int = 0
    bytes_in: int = 0
    egress_host: str | None = None
    path: str | None = None
    status: int | None = None
    #: How many requests or host calls this entry stands for (aggregated by kind).
    calls: int = 1
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def to_doc(self) -> dict[str, Any]:
        body = asdict(self)
        body["ids"] = body["ids"][:MAX_IDS_PER_ENTRY]
        # Time-ordered ids: `_all_docs`/`_id` order is chronological.
        return {"_id": f"{self.at}-{secrets.token_hex(4)}", **body}


class AccessLog:
    def __init__(self, couch: CouchClient) -> None:
        self.couch = couch
        self._buffers: dict[str, tuple[Instance, list[dict[str, Any]]]] = {}
        self._flush_task: asyncio.Task[None] | None = None
        # Per instance: (window start, entries written in it, entries dropped in it).
        self._windows: dict[str, tuple[float, int, int]] = {}

    def _admit(self, instance: Instance) -> AccessEntry | bool:
        """Whether one more entry fits this minute; at a new minute, the previous drop summary."""
        now = time.monotonic()
        start, written, dropped = self._windows.get(instance.domain, (now, 0, 0))
        summary: AccessEntry | None = None
        if now - start >= WINDOW_SECONDS:
            if dropped:
                summary = AccessEntry(
                    principal="stack",
                    verb="LOG",
                    doctype=ACCESS_DOCTYPE,
                    count=dropped,
                    calls=dropped,
                    path=f"dropped {dropped:,} entries over the limit of "
                    f"{MAX_ENTRIES_PER_MINUTE} a minute",
                )
            start, written, dropped = now, 0, 0
        if written >= MAX_ENTRIES_PER_MINUTE:
            self._windows[instance.domain] = (start, written, dropped + 1)
            return False
        self._windows[instance.domain] = (start, written + 1 + (summary is not None), dropped)
        return summary if summary is not None else True

    def record(self, instance: Instance, entry: AccessEntry) -> None:
        """Buffer an entry (or count it as dropped); a flush is scheduled on the running loop."""
        admitted = self._admit(instance)
        if admitted is False:
            return
        _, buffer = self._buffers.setdefault(instance.domain, (instance, []))
        if isinstance(admitted, AccessEntry):
            buffer.append(admitted.to_doc())
        buffer.append(entry.to_doc())
        if len(buffer) >= MAX_BUFFERED or self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_DELAY_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        pending, self._buffers = self._buffers, {}
        for instance, docs in pending.values():
            try:
                await self.couch.bulk_docs(instance.db(ACCESS_DOCTYPE), docs)
            except RoostError as error:
                # The store is down: keep the entries for the next flush rather than lose them.
                log.warning("access log flush failed: %s", error.reason)
                _, buffer = self._buffers.setdefault(instance.domain, (instance, []))
                buffer[:0] = docs[-MAX_BUFFERED:]

    async def aclose(self) -> None:
        if self._flush_task is not None and not self._flush_task.done():
            self._flush_task.cancel()
        await self.flush()

    async def query(
        self,
        instance: Instance,
        *,
        app: str | None = None,
        limit: int = 100,
        before: str | None = None,
    ) -> list[dict[str, Any]]:
        """The newest entries first, optionally for one app, paged by `before` (an entry id)."""
        await self.flush()
        selector: dict[str, Any] = {"_id": {"$gt": None}}
        if before:
            selector["_id"] = {"$lt": before}
        if app:
            selector["app"] = app
        result = await self.couch.find(
            instance.db(ACCESS_DOCTYPE),
            {"selector": selector, "sort": [{"_id": "desc"}], "limit": limit},
        )
        docs: list[dict[str, Any]] = result.get("docs", [])
        return docs
