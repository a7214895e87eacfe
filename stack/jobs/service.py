"""`JobService`: the jobs and triggers of every instance, and the loop that runs them.

One poll loop per stack process: every `poll_interval` seconds (at once when this process
queues something) it walks the instances, fires the triggers that are due and claims the
jobs that are due for the workers registered here. Each look is one Mango query per
instance and doctype on an index of the `due_at` / `next_run_at` field, which only
documents with something pending carry, and instances without a jobs or triggers database
cost one 404 every few seconds. Nothing is held in memory that another process could not
rebuild from the documents, so processes can come and go.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import secrets
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from roost.couch import CouchClient
from roost.errors import BadRequest, NotFound, RoostError
from roost.instances import Instance, InstanceService
from roost.jobs.errors import UnknownWorker
from roost.jobs.events import validate_event_verb
from roost.jobs.job import JOBS_DOCTYPE, JobDoc, append_log_lines, new_job_doc
from roost.jobs.runner import JobRunner
from roost.jobs.scheduler import TriggerScheduler
from roost.jobs.store import Doc, JobStore
from roost.jobs.times import format_time, utc_now
from roost.jobs.trigger import TRIGGERS_DOCTYPE, TriggerDoc, validate_trigger
from roost.jobs.workers import MAX_ATTEMPTS_LIMIT, JobHandler, WorkerSpec, validate_worker_name

log = logging.getLogger("roost.jobs")

MAX_LIST = 1000


def _json_object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadRequest(f"{what} must be a JSON object")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise BadRequest(f"{what} is not JSON: {error}") from None
    return dict(value)


class JobService:
    def __init__(
        self,
        couch: CouchClient,
        instances: InstanceService,
        *,
        poll_interval: float = 1.0,
        lease_seconds: float = 30.0,
        instances_cache_seconds: float = 5.0,
        event_cache_seconds: float = 2.0,
        stop_grace_seconds: float = 5.0,
        poll_parallelism: int = 8,
    ) -> None:
        self.instances = instances
        self.poll_interval = poll_interval
        self.instances_cache_seconds = instances_cache_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.poll_parallelism = poll_parallelism
        # Unique per JobService, so two services in one Python process act as two processes.
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._store = JobStore(couch)
        self._workers: dict[str, WorkerSpec] = {}
        self._runner = JobRunner(self._store, self._workers, self.process_id, lease_seconds)
        self._scheduler = TriggerScheduler(self._store, self._workers, event_cache_seconds)
        self._listed: tuple[float, list[Instance]] | None = None
        # Instances this process touched lately: polled even before the next listing.
        self._touched: dict[str, tuple[float, Instance]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._poller: asyncio.Task[None] | None = None
        self._stopping = False
        self._event_tasks: set[asyncio.Task[None]] = set()
        # Set on stop: debounced triggers queue what they gathered at once.
        self._debounce_cut = asyncio.Event()

    # -- workers -----------------------------------------------------------------------

    def register_worker(
        self,
        name: str,
        handler: JobHandler,
        *,
        concurrency: int = 2,
        timeout_seconds: float = 60.0,
        max_attempts: int = 3,
        backoff_seconds: float = 2.0,
        per_instance: int | None = None,
    ) -> None:
        """Run jobs of worker `name` in this process with `handler` (replaces an earlier one)."""
        self._workers[name] = WorkerSpec(
            name,
            handler,
            concurrency=concurrency,
            timeout_seconds=timeout_seconds,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            per_instance=per_instance,
        )
        self._poke()

    @property
    def workers(self) -> tuple[str, ...]:
        return tuple(sorted(self._workers))

    def has_worker(self, name: str) -> bool:
        return name in self._workers

    def _spec(self, worker: str) -> WorkerSpec:
        validate_worker_name(worker)
        spec = self._workers.get(worker)
        if spec is None:
            raise UnknownWorker(f"unknown worker {worker!r}")
        return spec

    # -- jobs --------------------------------------------------------------------------

    async def enqueue(
        self,
        instance: Instance,
        worker: str,
        message: Mapping[str, Any] | None = None,
        *,
        trigger_id: str | None = None,
        max_attempts: int | None = None,
    ) -> JobDoc:
        """Queue a job for `worker` (registered in this process) and return its document."""
        spec = self._spec(worker)
        attempts = spec.max_attempts if max_attempts is None else max_attempts
        if not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
            raise BadRequest(f"max_attempts must be an integer from 1 to {MAX_ATTEMPTS_LIMIT}")
        doc = new_job_doc(
            uuid.uuid4().hex,
            worker,
            _json_object(message, "the job's message"),
            now=format_time(utc_now()),
            max_attempts=attempts,
            trigger_id=trigger_id,
        )
        await self._store.create(instance, JOBS_DOCTYPE, doc)
        self._touch(instance)
        return JobDoc.from_doc(doc)

    async def get(self, instance: Instance, job_id: str) -> JobDoc:
        """The job, or NotFound."""
        doc = await self._store.get(instance, JOBS_DOCTYPE, job_id)
        if "worker" not in doc or "state" not in doc:
            raise NotFound("missing")
        return JobDoc.from_doc(doc)

    async def list_jobs(
        self,
        instance: Instance,
        *,
        worker: str | None = None,
        trigger_id: str | None = None,
        state: str | None = None,
        limit: int = 100,
    ) -> list[JobDoc]:
        """Jobs of the instance, filtered; not ordered (a full scan: for tests and tools)."""
        selector: dict[str, Any] = {"worker": {"$exists": True}}
        if worker is not None:
            selector["worker"] = worker
        if trigger_id is not None:
            selector["trigger_id"] = trigger_id
        if state is not None:
            selector["state"] = state
        docs = await self._store.find(instance, JOBS_DOCTYPE, selector, min(limit, MAX_LIST))
        return [JobDoc.from_doc(doc) for doc in docs]

    async def append_log(self, instance: Instance, job_id: str, lines: str | Sequence[str]) -> None:
        """Add lines to a job's log (the last 500 are kept)."""
        batch = [lines] if isinstance(lines, str) else [str(line) for line in lines]
        if not batch:
            return

        def add(doc: Doc) -> bool:
            append_log_lines(doc, format_time(utc_now()), batch)
            return True

        await self._store.update(instance, JOBS_DOCTYPE, job_id, add)

    # -- triggers ----------------------------------------------------------------------

    async def create_trigger(
        self,
        instance: Instance,
        type: str,  # io.cozy.triggers calls the field `type`
        arguments: str,
        worker: str,
        message: Mapping[str, Any] | None = None,
        *,
        trigger_id: str | None = None,
        debounce: str | None = None,
    ) -> TriggerDoc:
        """A new trigger; `trigger_id` (for the stack's own triggers) makes it Conflict
        when it exists already, so processes that create it at once make one. `debounce`
        (`@event` only, e.g. `"2s"`): changes within it make one job."""
        if not isinstance(type, str) or not isinstance(arguments, str):
            raise BadRequest("a trigger's type and arguments are strings")
        validate_trigger(type, arguments, debounce)
        try:
            self._spec(worker)
        except UnknownWorker as error:
            raise BadRequest(error.reason) from None
        now = utc_now()
        doc: Doc = {
            # The id is the webhook's only secret: 128 random bits.
            "_id": trigger_id or secrets.token_hex(16),
            "type": type,
            "arguments": arguments.strip(),
            "worker": worker,
            "message": _json_object(message, "the trigger's message"),
            "created_at": format_time(now),
        }
        if debounce is not None:
            doc["debounce"] = debounce.strip()
        trigger = TriggerDoc.from_doc(doc)
        if trigger.is_time_based:
            doc["next_run_at"] = format_time(trigger.schedule().first(now))
        await self._store.create(instance, TRIGGERS_DOCTYPE, doc)
        self._scheduler.forget(instance)
        self._touch(instance)
        return TriggerDoc.from_doc(doc)

    async def restore_trigger(self, instance: Instance, trigger: TriggerDoc) -> TriggerDoc:
        """Write back a trigger deleted a moment ago, under its own id and with its own schedule
        (an app install undoing its changes). A webhook keeps its URL, its only secret."""
        doc: Doc = {
            "_id": trigger.id,
            "type": trigger.type,
            "arguments": trigger.arguments,
            "worker": trigger.worker,
            "message": dict(trigger.message),
            "created_at": trigger.created_at,
        }
        for name in ("next_run_at", "last_run_at", "last_job_id", "debounce"):
            value = getattr(trigger, name)
            if value is not None:
                doc[name] = value
        await self._store.create(instance, TRIGGERS_DOCTYPE, doc)
        self._scheduler.forget(instance)
        self._touch(instance)
        return TriggerDoc.from_doc(doc)

    async def get_trigger(self, instance: Instance, trigger_id: str) -> TriggerDoc:
        doc = await self._store.get(instance, TRIGGERS_DOCTYPE, trigger_id)
        if "type" not in doc or "worker" not in doc:
            raise NotFound("missing")
        return TriggerDoc.from_doc(doc)

    async def list_triggers(
        self, instance: Instance, worker: str | None = None
    ) -> list[TriggerDoc]:
        docs = await self._store.all(instance, TRIGGERS_DOCTYPE)
        triggers = [TriggerDoc.from_doc(doc) for doc in docs if "type" in doc]
        if worker is not None:
            triggers = [t for t in triggers if t.worker == worker]
        return sorted(triggers, key=lambda t: (t.created_at, t.id))

    async def delete_trigger(self, instance: Instance, trigger_id: str) -> None:
        trigger = await self.get_trigger(instance, trigger_id)
        await self._store.delete(instance, TRIGGERS_DOCTYPE, trigger.id, trigger.rev)
        self._scheduler.forget(instance)

    async def fire_webhook(self, instance: Instance, trigger_id: str, payload: Any) -> JobDoc:
        """Queue the job of a `@webhook` trigger with `payload` as `message["input"]`."""
        trigger = await self.get_trigger(instance, trigger_id)
        if trigger.type != "@webhook":
            raise NotFound("missing")
        job = await self._scheduler.fire_webhook(instance, trigger, payload)
        self._touch(instance)
        return job

    # -- @event --------------------------------------------------------------------------

    def notify_change(
        self, instance: Instance, doctype: str, verb: str, doc: Mapping[str, Any]
    ) -> None:
        """A document was CREATED, UPDATED or DELETED: fire the matching `@event` triggers.

        Returns at once (the jobs are queued in the background); safe to call from any
        thread. `await flush_events()` waits for what was started.
        """
        event_verb = validate_event_verb(verb)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            loop = self._loop
            if loop is None or loop.is_closed():
                log.warning("change notified with no event loop; @event triggers skipped")
                return
            snapshot = copy.deepcopy(dict(doc))
            loop.call_soon_threadsafe(self._dispatch_event, instance, doctype, event_verb, snapshot)
            return
        self._dispatch_event(instance, doctype, event_verb, doc)

    def _dispatch_event(
        self, instance: Instance, doctype: str, verb: str, doc: Mapping[str, Any]
    ) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        # The common case, a write no trigger watches, costs a dictionary lookup.
        if self._scheduler.cached_matches(instance, doctype, verb, doc) is False:
            return
        snapshot = copy.deepcopy(dict(doc))
        task = loop.create_task(self._fire_event(instance, doctype, verb, snapshot))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _fire_event(
        self, instance: Instance, doctype: str, verb: str, doc: Mapping[str, Any]
    ) -> None:
        try:
            if await self._scheduler.fire_event(instance, doctype, verb, doc, self._debounce):
                self._touch(instance)
        except RoostError as error:
            log.warning("@event triggers not fired", extra={"fields": {"error": error.reason}})
        except Exception:
            log.exception("@event triggers failed")

    def _debounce(self, instance: Instance, trigger: TriggerDoc, seconds: float) -> None:
        """A debounced trigger's first change: its job is queued `seconds` from now."""
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._fire_debounced(instance, trigger, seconds))
        self._event_tasks.add(task)
        task.add_done_callback(self._event_tasks.discard)

    async def _fire_debounced(
        self, instance: Instance, trigger: TriggerDoc, seconds: float
    ) -> None:
        # On stop the changes gathered so far are queued at once: none is lost.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._debounce_cut.wait(), timeout=seconds)
        try:
            if await self._scheduler.fire_debounced(instance, trigger):
                self._touch(instance)
        except RoostError as error:
            log.warning("debounced trigger not fired", extra={"fields": {"error": error.reason}})
        except Exception:
            log.exception("debounced trigger failed")

    async def flush_events(self) -> None:
        """Wait until the `@event` triggers of the changes notified so far are fired."""
        while self._event_tasks:
            await asyncio.gather(*list(self._event_tasks), return_exceptions=True)

    # -- the loop ----------------------------------------------------------------------

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _touch(self, instance: Instance) -> None:
        self._touched[instance.domain] = (time.monotonic(), instance)
        self._poke()

    async def _instances_to_poll(self) -> list[Instance]:
        now = time.monotonic()
        if self._listed is None or now - self._listed[0] > self.instances_cache_seconds:
            try:
                self._listed = (now, await self.instances.list())
            except RoostError as error:
                log.warning("cannot list instances", extra={"fields": {"error": error.reason}})
                if self._listed is None:
                    self._listed = (now, [])
            listed_at, listed = self._listed
            domains = {instance.domain for instance in listed}
            self._touched = {
                domain: entry
                for domain, entry in self._touched.items()
                if domain not in domains and entry[0] >= listed_at - self.instances_cache_seconds
            }
        polled = {instance.domain: instance for instance in self._listed[1]}
        for domain, (_, instance) in self._touched.items():
            polled.setdefault(domain, instance)
        return list(polled.values())

    async def poll_once(self) -> None:
        """One pass: fire due triggers and claim due jobs, for every instance."""
        instances = await self._instances_to_poll()
        limit = asyncio.Semaphore(self.poll_parallelism)

        async def visit(instance: Instance) -> None:
            async with limit:
                try:
                    await self._scheduler.fire_due(instance, utc_now())
                    await self._runner.claim_due(instance)
                except RoostError as error:
                    log.warning(
                        "jobs poll failed",
                        extra={"fields": {"domain": instance.domain, "error": error.reason}},
                    )
                except Exception:
                    log.exception("jobs poll failed", extra={"fields": {"domain": instance.domain}})

        await asyncio.gather(*(visit(instance) for instance in instances))

    async def _poll_forever(self, wake: asyncio.Event) -> None:
        # Stopping sets a flag rather than relying on cancellation alone: on Python 3.11,
        # `wait_for` swallows a cancellation that arrives as the awaited event fires.
        while not self._stopping:
            wake.clear()
            try:
                await self.poll_once()
            except Exception:
                log.exception("jobs poll failed")
            if self._stopping:
                return
            try:
                async with asyncio.timeout(self.poll_interval):
                    await wake.wait()
            except TimeoutError:
                pass

    @property
    def started(self) -> bool:
        return self._poller is not None

    def stats(self) -> dict[str, Any]:
        """For /status and /metrics: is this process running jobs, and how many now."""
        return {
            "started": self.started,
            "process_id": self.process_id,
            "workers": list(self.workers),
            "running": self._runner.running,
        }

    async def start(self) -> None:
        """Start polling (jobs left queued by a previous run are picked up by the first look)."""
        if self._poller is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self._debounce_cut.clear()
        self._wake = asyncio.Event()
        self._poller = self._loop.create_task(self._poll_forever(self._wake))

    async def stop(self) -> None:
        """Stop polling; running jobs get `stop_grace_seconds`, then go back to the queue."""
        poller, self._poller = self._poller, None
        self._stopping = True
        self._debounce_cut.set()
        self._poke()
        self._wake = None
        if poller is not None:
            _, pending = await asyncio.wait({poller}, timeout=self.stop_grace_seconds)
            if pending:
                poller.cancel()
                await asyncio.wait({poller}, timeout=self.stop_grace_seconds)
        await self._runner.stop(self.stop_grace_seconds)
        if self._event_tasks:
            await asyncio.wait(set(self._event_tasks), timeout=self.stop_grace_seconds)

    async def aclose(self) -> None:
        await self.stop()
