"""Failed-login counting per instance: too many failures in a window → 429 with Retry-After.

The count is shared by every stack process of a fleet: it lives in one CouchDB document per
instance (`login-failures` in the instance's `io.cozy.sessions` database, which no API
exposes and no export carries), holding the times of the recent failures. Writes are
bounded: a failure is written only while the instance is not locked out (at most
`max_failures` writes per window, however fast an attacker tries; a locked-out attempt costs
one read and no passphrase check), and a success after failures deletes the document. Times
are wall-clock seconds, so the stacks' clocks must agree (NTP) to within a small part of the
window.
"""

from __future__ import annotations

import time

from roost.couch import CouchClient
from roost.errors import Conflict, NotFound
from roost.instances import Instance

# Stored beside the sessions: invisible to every API, excluded from exports (credentials).
_DOCTYPE = "io.cozy.sessions"
# Session documents are named by a SHA-256 in hex: this id can never be one.
_DOC_ID = "login-failures"
_WRITE_ATTEMPTS = 5


class LoginLimiter:
    def __init__(self, couch: CouchClient, max_failures: int, window_seconds: int) -> None:
        self.couch = couch
        self.max_failures = max_failures
        self.window = window_seconds

    def _recent(self, doc: dict[str, object] | None, now: float) -> list[float]:
        times = doc.get("failures") if doc else None
        if not isinstance(times, list):
            return []
        return sorted(
            float(t) for t in times if isinstance(t, int | float) and now - t <= self.window
        )

    async def retry_after(self, instance: Instance) -> int | None:
        """Seconds to wait if the instance is locked out, else None."""
        now = time.time()
        doc = await self.couch.get_doc_or_none(instance.db(_DOCTYPE), _DOC_ID)
        failures = self._recent(doc, now)
        if len(failures) < self.max_failures:
            return None
        oldest_counted = failures[-self.max_failures]
        return max(1, int(self.window - (now - oldest_counted)) + 1)

    async def record_failure(self, instance: Instance) -> None:
        db = instance.db(_DOCTYPE)
        for _ in range(_WRITE_ATTEMPTS):
            now = time.time()
            doc = await self.couch.get_doc_or_none(db, _DOC_ID) or {"_id": _DOC_ID}
            # Only the last `max_failures` matter: the document stays small.
            failures = [*self._recent(doc, now), now][-self.max_failures :]
            doc["failures"] = failures
            try:
                await self.couch.put_doc(db, doc)
                return
            except Conflict:
                continue  # another stack recorded one meanwhile: count on top of it

    async def reset(self, instance: Instance) -> None:
        db = instance.db(_DOCTYPE)
        doc = await self.couch.get_doc_or_none(db, _DOC_ID)
        if doc is None:
            return
        try:
            await self.couch.delete_doc(db, _DOC_ID, str(doc["_rev"]))
        except (Conflict, NotFound):
            pass  # a failure recorded meanwhile stays counted
