"""Claiming and running jobs: bounded concurrency, timeout, retries with backoff, leases.

A job is claimed by a conditional update of its document (its `_rev`): state `running`,
`claimed_by` this process, `lease_until` a little ahead. Of two processes claiming the same
revision the store accepts one and answers 409 to the other, so a job never runs twice
at once. While it runs the lease is renewed; if the process dies the lease lapses and
any process claims the job again (that attempt counts as failed). Every later write about
the job (log, outcome) first checks the claim is still this process's.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from roost.errors import Conflict, NotFound, RoostError, StoreUnavailable
from roost.instances import Instance
from roost.jobs.job import (
    DONE,
    ERRORED,
    JOBS_DOCTYPE,
    QUEUED,
    RUNNING,
    JobDoc,
    append_log_lines,
)
from roost.jobs.store import Doc, JobStore
from roost.jobs.times import format_time, utc_now
from roost.jobs.trigger import TRIGGERS_DOCTYPE
from roost.jobs.workers import WorkerSpec

log = logging.getLogger("roost.jobs")

# A trigger whose runs hit their budget waits this long, doubling per failure, capped.
TRIGGER_BACKOFF_SECONDS = 60.0
MAX_TRIGGER_BACKOFF_SECONDS = 24 * 3600.0

# Writing an outcome is retried this often (one second apart) while the store is down;
# after that the claim lapses and the job runs again somewhere.
_FINISH_RETRIES = 10


class BudgetHit(Exception):
    """Raised by a handler whose work hit a resource budget: retrying would hit it again.

    The job fails at once (no retry) and its trigger, if any, is backed off and marked
    failing until a run succeeds.
    """


class FinalFailure(Exception):
    """Raised by a handler whose failure another attempt would only repeat (a connector told
    a wrong password: retrying could lock the person out). The job fails at once."""


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    result: Any = None
    error: str | None = None
    budget_hit: bool = False
    final: bool = False


def _safe_text(text: str) -> str:
    """A lone surrogate cannot be stored or rendered as UTF-8: replace it."""
    return text.encode("utf-8", "replace").decode("utf-8")


def trigger_backoff(failures: int) -> float:
    return min(TRIGGER_BACKOFF_SECONDS * 2.0 ** min(failures - 1, 32), MAX_TRIGGER_BACKOFF_SECONDS)


def _describe(error: BaseException) -> str:
    text = _safe_text(str(error).strip())[:2000]
    name = type(error).__name__
    return f"{name}: {text}" if text else name


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        workers: Mapping[str, WorkerSpec],
        process_id: str,
        lease_seconds: float,
    ) -> None:
        self.store = store
        self.workers = workers
        self.process_id = process_id
        self.lease_seconds = lease_seconds
        self._in_flight: dict[str, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()
        # Per (worker, instance): one instance may not hold every slot of a worker.
        self._per_instance: dict[tuple[str, str], int] = defaultdict(int)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def _instance_full(self, spec: WorkerSpec, instance: Instance) -> bool:
        cap = spec.per_instance
        return cap is not None and self._per_instance[(spec.name, instance.domain)] >= cap

    def _free_slots(self, instance: Instance) -> dict[str, int]:
        return {
            name: spec.concurrency - self._in_flight[name]
            for name, spec in self.workers.items()
            if self._in_flight[name] < spec.concurrency and not self._instance_full(spec, instance)
        }

    async def claim_due(self, instance: Instance) -> int:
        """Claim and start what this instance has due, within the free slots; how many."""
        free = self._free_slots(instance)
        if not free:
            return 0
        docs = await self.store.due(
            instance,
            JOBS_DOCTYPE,
            "due_at",
            format_time(utc_now()),
            also={"worker": {"$in": sorted(free)}},
            # Some of what is listed will be claimed by another process first.
            limit=2 * sum(free.values()) + 8,
        )
        started = 0
        for doc in docs:
            spec = self.workers.get(str(doc.get("worker")))
            if spec is None or self._in_flight[spec.name] >= spec.concurrency:
                continue
            if self._instance_full(spec, instance):
                continue
            # Reserve the slot before awaiting, so concurrent instance polls cannot overfill it.
            self._take(spec, instance, 1)
            try:
                claimed = await self._claim(instance, doc, spec)
            except BaseException:
                self._take(spec, instance, -1)
                raise
            if claimed is None:
                self._take(spec, instance, -1)
                continue
            task = asyncio.get_running_loop().create_task(self._run(instance, claimed, spec))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    def _take(self, spec: WorkerSpec, instance: Instance, delta: int) -> None:
        self._in_flight[spec.name] += delta
        self._per_instance[(spec.name, instance.domain)] += delta

    async def _claim(self, instance: Instance, doc: Doc, spec: WorkerSpec) -> Doc | None:
        now = utc_now()
        now_text = format_time(now)
        attempts = int(doc.get("attempts", 0))
        max_attempts = int(doc.get("max_attempts", spec.max_attempts))
        state = doc.get("state")
        if state == RUNNING:
            if str(doc.get("lease_until") or "") > now_text:
                return None
            if attempts >= max_attempts:
                # Its last attempt died with the process that ran it.
                lapsed = dict(doc)
                _finish_fields(lapsed, now_text, state=ERRORED)
                lapsed["error"] = "the stack process running it stopped (its claim lapsed)"
                append_log_lines(lapsed, now_text, [f"attempt {attempts} lost: claim lapsed"])
                try:
                    await self.store.replace(instance, JOBS_DOCTYPE, lapsed)
                except Conflict:
                    pass
                return None
        elif state != QUEUED:
            return None
        lease_until = format_time(now + timedelta(seconds=self.lease_seconds))
        claimed = dict(doc)
        claimed.update(
            state=RUNNING,
            claimed_by=self.process_id,
            lease_until=lease_until,
            due_at=lease_until,
            started_at=now_text,
            attempts=attempts + 1,
        )
        note = f"attempt {attempts + 1} of {max_attempts} started by {self.process_id}"
        if state == RUNNING:
            note += " (the previous claim lapsed)"
        append_log_lines(claimed, now_text, [note])
        try:
            return await self.store.replace(instance, JOBS_DOCTYPE, claimed, exclusive=True)
        except Conflict:
            return None  # another process claimed it first

    def _holds(self, doc: Doc, attempt: int) -> bool:
        return (
            doc.get("state") == RUNNING
            and doc.get("claimed_by") == self.process_id
            and doc.get("attempts") == attempt
        )

    async def _run(self, instance: Instance, doc: Doc, spec: WorkerSpec) -> None:
        job = JobDoc.from_doc(doc)
        heartbeat = asyncio.get_running_loop().create_task(
            self._heartbeat(instance, job.id, job.attempts)
        )
        try:
            try:
                outcome = await self._execute(instance, job, spec)
            except asyncio.CancelledError:
                heartbeat.cancel()
                await self._release(instance, job.id, job.attempts)
                raise
            heartbeat.cancel()
            await self._finish(instance, job, spec, outcome)
        finally:
            heartbeat.cancel()
            self._take(spec, instance, -1)

    async def _execute(self, instance: Instance, job: JobDoc, spec: WorkerSpec) -> _Outcome:
        try:
            result = await asyncio.wait_for(
                spec.handler(instance, job), timeout=spec.timeout_seconds
            )
        except TimeoutError:
            return _Outcome(False, error=f"timed out after {spec.timeout_seconds:g} s")
        except asyncio.CancelledError:
            raise
        except BudgetHit as error:
            return _Outcome(False, error=_describe(error), budget_hit=True)
        except FinalFailure as error:
            return _Outcome(False, error=_safe_text(str(error))[:2000], final=True)
        except Exception as error:
            return _Outcome(False, error=_describe(error))
        try:
            # ensure_ascii=False: a lone surrogate fails here, not later when the job is shown.
            json.dumps(result, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as error:
            return _Outcome(False, error=f"the worker's result is not JSON: {error}")
        return _Outcome(True, result=result)

    async def _finish(
        self, instance: Instance, job: JobDoc, spec: WorkerSpec, outcome: _Outcome
    ) -> None:
        attempt = job.attempts

        def record(doc: Doc) -> bool:
            if not self._holds(doc, attempt):
                return False
            now = utc_now()
            now_text = format_time(now)
            max_attempts = int(doc.get("max_attempts", spec.max_attempts))
            if outcome.ok:
                _finish_fields(doc, now_text, state=DONE)
                doc["result"] = outcome.result
                doc["error"] = None
                append_log_lines(doc, now_text, [f"attempt {attempt} done"])
            elif outcome.budget_hit:
                _finish_fields(doc, now_text, state=ERRORED)
                doc["error"] = outcome.error
                doc["budget_hit"] = True
                append_log_lines(
                    doc,
                    now_text,
                    [f"attempt {attempt} hit its budget: {outcome.error}; not retried"],
                )
            elif attempt < max_attempts and not outcome.final:
                delay = spec.backoff(attempt)
                doc.update(
                    state=QUEUED,
                    claimed_by=None,
                    lease_until=None,
                    error=outcome.error,
                    due_at=format_time(now + timedelta(seconds=delay)),
                )
                append_log_lines(
                    doc,
                    now_text,
                    [f"attempt {attempt} failed: {outcome.error}; next attempt in {delay:g} s"],
                )
            else:
                _finish_fields(doc, now_text, state=ERRORED)
                doc["error"] = outcome.error
                why = "not retried" if outcome.final else "giving up"
                append_log_lines(
                    doc, now_text, [f"attempt {attempt} failed: {outcome.error}; {why}"]
                )
            return True

        for _ in range(_FINISH_RETRIES):
            try:
                if await self.store.update(instance, JOBS_DOCTYPE, job.id, record) is None:
                    log.warning(
                        "job claim lost before its outcome was written",
                        extra={"fields": {"job": job.id, "domain": instance.domain}},
                    )
                    return
                if job.trigger_id and (outcome.ok or outcome.budget_hit):
                    await self._mark_trigger(instance, job.trigger_id, outcome)
                return
            except NotFound:
                return  # deleted meanwhile
            except StoreUnavailable as error:
                log.warning(
                    "cannot record a job outcome yet", extra={"fields": {"error": str(error)}}
                )
                await asyncio.sleep(1.0)

    async def _mark_trigger(self, instance: Instance, trigger_id: str, outcome: _Outcome) -> None:
        """Back a trigger off while its runs hit budgets; clear the mark on a success."""

        def mark(doc: Doc) -> bool:
            now = utc_now()
            if outcome.ok:
                if not doc.get("budget_failures"):
                    return False
                for key in ("budget_failures", "backoff_until", "failing"):
                    doc.pop(key, None)
                return True
            failures = int(doc.get("budget_failures", 0)) + 1
            delay = trigger_backoff(failures)
            doc.update(
                budget_failures=failures,
                backoff_until=format_time(now + timedelta(seconds=delay)),
                failing=f"its last {failures} run(s) hit a budget: {outcome.error}"[:500],
            )
            return True

        try:
            await self.store.update(instance, TRIGGERS_DOCTYPE, trigger_id, mark)
        except (NotFound, RoostError) as error:
            log.warning("cannot mark a trigger", extra={"fields": {"error": str(error)}})

    async def _heartbeat(self, instance: Instance, job_id: str, attempt: int) -> None:
        interval = self.lease_seconds / 3

        def renew(doc: Doc) -> bool:
            if not self._holds(doc, attempt):
                return False
            lease_until = format_time(utc_now() + timedelta(seconds=self.lease_seconds))
            doc.update(lease_until=lease_until, due_at=lease_until)
            return True

        while True:
            await asyncio.sleep(interval)
            try:
                if await self.store.update(instance, JOBS_DOCTYPE, job_id, renew) is None:
                    return
            except RoostError as error:
                log.warning("cannot renew a job's lease", extra={"fields": {"error": str(error)}})

    async def _release(self, instance: Instance, job_id: str, attempt: int) -> None:
        """Put an interrupted job (the stack is stopping) back in the queue at once."""

        def requeue(doc: Doc) -> bool:
            if not self._holds(doc, attempt):
                return False
            now_text = format_time(utc_now())
            doc.update(
                state=QUEUED,
                claimed_by=None,
                lease_until=None,
                due_at=now_text,
                attempts=attempt - 1,
            )
            append_log_lines(
                doc, now_text, [f"attempt {attempt} interrupted: the stack stopped; queued again"]
            )
            return True

        try:
            await self.store.update(instance, JOBS_DOCTYPE, job_id, requeue)
        except RoostError as error:
            # The lease will lapse and another process will take the job.
            log.warning("cannot release a job", extra={"fields": {"error": str(error)}})

    async def stop(self, grace_seconds: float) -> None:
        """Let running jobs finish for `grace_seconds`, then interrupt and requeue the rest."""
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def _finish_fields(doc: Doc, now_text: str, *, state: str) -> None:
    doc.update(state=state, finished_at=now_text, claimed_by=None, lease_until=None)
    doc.pop("due_at", None)
