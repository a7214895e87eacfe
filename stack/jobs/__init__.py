"""Jobs and triggers: background work for workers, queued now, on a schedule or on events.

The public surface is `JobService` (one per stack process, `services.jobs`), the document
views `JobDoc` and `TriggerDoc`, and `JobHandler`, the shape of a worker. See
docs/api/jobs.md for the HTTP API and the guarantees.
"""

from roost.jobs.errors import InvalidTrigger, UnknownWorker
from roost.jobs.job import DONE, ERRORED, JOB_STATES, JOBS_DOCTYPE, QUEUED, RUNNING, JobDoc
from roost.jobs.service import JobService
from roost.jobs.trigger import TRIGGER_TYPES, TRIGGERS_DOCTYPE, TriggerDoc, trigger_problem
from roost.jobs.workers import JobHandler

__all__ = [
    "DONE",
    "ERRORED",
    "JOBS_DOCTYPE",
    "JOB_STATES",
    "QUEUED",
    "RUNNING",
    "TRIGGERS_DOCTYPE",
    "TRIGGER_TYPES",
    "InvalidTrigger",
    "JobDoc",
    "JobHandler",
    "JobService",
    "TriggerDoc",
    "UnknownWorker",
    "trigger_problem",
]
