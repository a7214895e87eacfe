"""Firing triggers: due time-based triggers, matching `@event` triggers, webhooks.

Two processes may find the same trigger due. Each occurrence's job gets an id derived from
(trigger id, scheduled time), so creating it is a conditional write only one process wins;
then `next_run_at` is advanced by a conditional update of the trigger (with its `_rev`),
which again only one process wins. A crash between the two leaves the trigger due: the
next look re-creates the same job id (409, already there) and advances it, so an
occurrence is neither lost nor run twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roost.errors import Conflict, NotFound
from roost.instances import Instance
from roost.jobs.errors import InvalidTrigger
from roost.jobs.events import EventRule
from roost.jobs.job import JOBS_DOCTYPE, QUEUED, JobDoc, new_job_doc
from roost.jobs.store import Doc, JobStore
from roost.jobs.times import format_time, parse_time, utc_now
from roost.jobs.trigger import TRIGGERS_DOCTYPE, TriggerDoc
from roost.jobs.workers import WorkerSpec

log = logging.getLogger("roost.jobs")

DEFAULT_MAX_ATTEMPTS = 3


def occurrence_job_id(trigger_id: str, due: str) -> str:
    """The id of the job a time-based trigger queues for its run due at `due`."""
    return hashlib.sha256(f"{trigger_id}\n{due}".encode()).hexdigest()[:32]


#: The changes a debounced job lists; past it, `events.complete` is false (a worker then
#: looks at the doctype as a whole).
MAX_DEBOUNCED_CHANGES = 20_000

#: Called with a debounced trigger's first change of a burst: queue the job in `seconds`.
Debouncer = Callable[[Instance, TriggerDoc, float], None]


@dataclass
class _Burst:
    """The changes a debounced trigger gathered since its delay started."""

    trigger: TriggerDoc
    last: dict[str, Any]
    changes: list[dict[str, str]] = field(default_factory=list)
    count: int = 0


@dataclass(frozen=True)
class _EventTriggers:
    loaded_at: float
    triggers: tuple[tuple[TriggerDoc, tuple[EventRule, ...]], ...]

    def matching(self, doctype: str, verb: str, doc: Mapping[str, Any]) -> list[TriggerDoc]:
        return [
            trigger
            for trigger, rules in self.triggers
            if any(rule.matches(doctype, verb, doc) for rule in rules)
        ]


class TriggerScheduler:
    def __init__(
        self, store: JobStore, workers: Mapping[str, WorkerSpec], event_cache_seconds: float
    ) -> None:
        self.store = store
        self.workers = workers
        self.event_cache_seconds = event_cache_seconds
        self._events: dict[str, _EventTriggers] = {}
        self._event_locks: dict[str, asyncio.Lock] = {}
        self._bursts: dict[tuple[str, str], _Burst] = {}
        # The last job each debounced trigger queued: a burst ending while it still waits
        # in the queue joins it instead of queuing another.
        self._debounced_jobs: dict[tuple[str, str], str] = {}
        self._debounce_locks: dict[tuple[str, str], asyncio.Lock] = {}

    def max_attempts_for(self, worker: str) -> int:
        spec = self.workers.get(worker)
        return spec.max_attempts if spec is not None else DEFAULT_MAX_ATTEMPTS

    async def queue(
        self,
        instance: Instance,
        trigger: TriggerDoc,
        message: dict[str, Any],
        *,
        job_id: str | None = None,
    ) -> JobDoc | None:
        """Queue the trigger's job; None when a job with `job_id` already exists."""
        doc = new_job_doc(
            job_id or uuid.uuid4().hex,
            trigger.worker,
            message,
            now=format_time(utc_now()),
            max_attempts=self.max_attempts_for(trigger.worker),
            trigger_id=trigger.id,
        )
        try:
            await self.store.create(instance, JOBS_DOCTYPE, doc)
        except Conflict:
            if job_id is None:
                raise
            return None
        return JobDoc.from_doc(doc)

    # -- time-based triggers -----------------------------------------------------------

    async def fire_due(self, instance: Instance, now: datetime) -> list[JobDoc]:
        docs = await self.store.due(instance, TRIGGERS_DOCTYPE, "next_run_at", format_time(now))
        queued: list[JobDoc] = []
        for doc in docs:
            job = await self._fire(instance, doc, now)
            if job is not None:
                queued.append(job)
        return queued

    async def _fire(self, instance: Instance, doc: Doc, now: datetime) -> JobDoc | None:
        trigger = TriggerDoc.from_doc(doc)
        due_text = str(doc["next_run_at"])
        try:
            schedule = trigger.schedule()
            due = parse_time(due_text)
        except (InvalidTrigger, ValueError) as error:
            # Written by something else than this service; park it rather than retry forever.
            log.warning(
                "trigger cannot be scheduled",
                extra={"fields": {"trigger": trigger.id, "error": str(error)}},
            )
            doc.pop("next_run_at", None)
            doc["error"] = str(error)
            await self._write_back(instance, doc)
            return None
        job_id = occurrence_job_id(trigger.id, due_text)
        backoff_until = str(doc.get("backoff_until") or "")
        job: JobDoc | None = None
        if backoff_until > format_time(now):
            # Its runs keep hitting their budget: skip occurrences until the backoff ends.
            log.info(
                "trigger backed off: occurrence skipped",
                extra={"fields": {"trigger": trigger.id, "until": backoff_until}},
            )
        else:
            job = await self.queue(instance, trigger, dict(trigger.message), job_id=job_id)
        following = schedule.following(due, now)
        if following is None:
            try:
                await self.store.delete(instance, TRIGGERS_DOCTYPE, trigger.id, trigger.rev)
            except (Conflict, NotFound):
                pass  # another process fired it first, or its owner deleted it
        else:
            doc["next_run_at"] = format_time(following)
            if job is not None:
                doc.update(last_run_at=format_time(now), last_job_id=job_id)
            await self._write_back(instance, doc)
        return job

    async def _write_back(self, instance: Instance, doc: Doc) -> None:
        try:
            await self.store.replace(instance, TRIGGERS_DOCTYPE, doc)
        except (Conflict, NotFound):
            pass  # another process advanced it first, or it was deleted

    # -- @event triggers ---------------------------------------------------------------

    def forget(self, instance: Instance) -> None:
        """Drop the cached `@event` triggers of an instance (one was created or deleted)."""
        self._events.pop(instance.domain, None)

    def cached_matches(
        self, instance: Instance, doctype: str, verb: str, doc: Mapping[str, Any]
    ) -> bool | None:
        """Whether a fresh cache says some trigger matches; None when the cache is stale."""
        cached = self._events.get(instance.domain)
        if cached is None or time.monotonic() - cached.loaded_at > self.event_cache_seconds:
            return None
        return bool(cached.matching(doctype, verb, doc))

    async def _event_triggers(self, instance: Instance) -> _EventTriggers:
        lock = self._event_locks.setdefault(instance.domain, asyncio.Lock())
        async with lock:
            cached = self._events.get(instance.domain)
            if (
                cached is not None
                and time.monotonic() - cached.loaded_at <= self.event_cache_seconds
            ):
                return cached
            loaded_at = time.monotonic()
            found: list[tuple[TriggerDoc, tuple[EventRule, ...]]] = []
            for doc in await self.store.all(instance, TRIGGERS_DOCTYPE):
                if doc.get("type") != "@event":
                    continue
                trigger = TriggerDoc.from_doc(doc)
                try:
                    found.append((trigger, trigger.event_rules()))
                except InvalidTrigger:
                    continue
            fresh = _EventTriggers(loaded_at, tuple(found))
            self._events[instance.domain] = fresh
            return fresh

    async def fire_event(
        self,
        instance: Instance,
        doctype: str,
        verb: str,
        doc: Mapping[str, Any],
        debouncer: Debouncer | None = None,
    ) -> list[JobDoc]:
        triggers = await self._event_triggers(instance)
        queued: list[JobDoc] = []
        now_text = format_time(utc_now())
        for trigger in triggers.matching(doctype, verb, doc):
            if trigger.backoff_until and trigger.backoff_until > now_text:
                continue  # its runs keep hitting their budget: skipped until the backoff ends
            event = {"doctype": doctype, "verb": verb, "doc": dict(doc)}
            seconds = trigger.debounce_seconds
            if seconds is not None and debouncer is not None:
                self._gather(instance, trigger, event, seconds, debouncer)
                continue
            job = await self.queue(instance, trigger, {**trigger.message, "event": event})
            if job is not None:
                queued.append(job)
        return queued

    def _gather(
        self,
        instance: Instance,
        trigger: TriggerDoc,
        event: dict[str, Any],
        seconds: float,
        debouncer: Debouncer,
    ) -> None:
        key = (instance.domain, trigger.id)
        burst = self._bursts.get(key)
        if burst is None:
            burst = self._bursts[key] = _Burst(trigger, event)
            debouncer(instance, trigger, seconds)
        burst.last, burst.count = event, burst.count + 1
        if len(burst.changes) < MAX_DEBOUNCED_CHANGES:
            doc_id = str(event["doc"].get("_id", ""))
            burst.changes.append({"doctype": event["doctype"], "verb": event["verb"], "id": doc_id})

    async def fire_debounced(self, instance: Instance, trigger: TriggerDoc) -> JobDoc | None:
        """Queue the one job of a debounced trigger's burst: the last change as `event`,
        every change (ids and verbs) in `events`."""
        key = (instance.domain, trigger.id)
        # One at a time per trigger: a burst that began while the previous one was being
        # queued finds that job recorded, and joins it while it waits.
        async with self._debounce_locks.setdefault(key, asyncio.Lock()):
            burst = self._bursts.pop(key, None)
            if burst is None:
                return None
            waiting = self._debounced_jobs.get(key)
            if waiting is not None and await self._join(instance, waiting, burst):
                return None
            message = {
                **burst.trigger.message,
                "event": burst.last,
                "events": {
                    "count": burst.count,
                    "complete": burst.count == len(burst.changes),
                    "changes": burst.changes,
                },
            }
            job = await self.queue(instance, burst.trigger, message)
            if job is not None:
                self._debounced_jobs[key] = job.id
            return job

    async def _join(self, instance: Instance, job_id: str, burst: _Burst) -> bool:
        """Add `burst` to the debounced job `job_id` if it has not started yet.

        A long write (a statement saved a thousand operations at a time) makes a burst per
        delay; while the first job waits for its turn, the next bursts join it, so the
        worker runs once for all of them. A job the runner has claimed meanwhile is left
        alone (the conditional write loses): the burst gets a job of its own.
        """

        def join(doc: Doc) -> bool:
            message = doc.get("message")
            if not isinstance(message, dict) or doc.get("state") != QUEUED:
                return False
            events = message.get("events")
            if not isinstance(events, dict):
                return False
            changes = list(events.get("changes") or [])
            room = max(0, MAX_DEBOUNCED_CHANGES - len(changes))
            changes.extend(burst.changes[:room])
            count = int(events.get("count") or 0) + burst.count
            message["event"] = burst.last
            message["events"] = {
                "count": count,
                "complete": bool(events.get("complete")) and count == len(changes),
                "changes": changes,
            }
            return True

        try:
            return await self.store.update(instance, JOBS_DOCTYPE, job_id, join) is not None
        except (NotFound, Conflict):
            return False

    # -- @webhook triggers -------------------------------------------------------------

    async def fire_webhook(self, instance: Instance, trigger: TriggerDoc, payload: Any) -> JobDoc:
        job = await self.queue(instance, trigger, {**trigger.message, "input": payload})
        assert job is not None  # a random id never collides
        return job
