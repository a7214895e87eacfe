"""The job document (`io.cozy.jobs`): one unit of work for a worker, and its history.

States: `queued` → `running` → `done` | `errored`; a failed attempt with attempts left goes
back to `queued` with `due_at` pushed back by the backoff. Besides the public fields the
document carries the runner's bookkeeping:

- `due_at`: present only while something must happen — a queued job may start from then,
  a running job's claim lapses then. One Mango index on it answers "what is there to do?";
  finished jobs drop out of the index because the field is removed.
- `claimed_by`, `lease_until`: which stack process runs it and until when its claim holds
  (renewed while running). Claiming is a conditional update with the document's `_rev`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

JOBS_DOCTYPE: Final = "io.cozy.jobs"

QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
ERRORED: Final = "errored"
JOB_STATES: Final = (QUEUED, RUNNING, DONE, ERRORED)

# A job document stays small: its log keeps the last lines, each cut to a sane length.
MAX_LOG_LINES: Final = 500
MAX_LOG_LINE_CHARS: Final = 4000


@dataclass(frozen=True)
class JobDoc:
    id: str
    rev: str
    worker: str
    message: dict[str, Any]
    state: str
    queued_at: str
    started_at: str | None = None
    finished_at: str | None = None
    attempts: int = 0
    max_attempts: int = 1
    error: str | None = None
    result: Any = None
    log: list[dict[str, str]] = field(default_factory=list)
    trigger_id: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> JobDoc:
        message = doc.get("message")
        log = doc.get("log")
        return cls(
            id=str(doc["_id"]),
            rev=str(doc.get("_rev", "")),
            worker=str(doc.get("worker", "")),
            message=dict(message) if isinstance(message, Mapping) else {},
            state=str(doc.get("state", QUEUED)),
            queued_at=str(doc.get("queued_at", "")),
            started_at=doc.get("started_at"),
            finished_at=doc.get("finished_at"),
            attempts=int(doc.get("attempts", 0)),
            max_attempts=int(doc.get("max_attempts", 1)),
            error=doc.get("error"),
            result=doc.get("result"),
            log=[dict(line) for line in log if isinstance(line, Mapping)]
            if isinstance(log, list)
            else [],
            trigger_id=doc.get("trigger_id"),
        )

    @property
    def finished(self) -> bool:
        return self.state in (DONE, ERRORED)

    def to_json(self) -> dict[str, Any]:
        """What `GET /jobs/{id}` answers (the runner's bookkeeping left out)."""
        return {
            "_id": self.id,
            "_rev": self.rev,
            "_type": JOBS_DOCTYPE,
            "worker": self.worker,
            "message": self.message,
            "state": self.state,
            "queued_at": self.queued_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "error": self.error,
            "result": self.result,
            "log": self.log,
            "trigger_id": self.trigger_id,
        }


def log_entry(at: str, line: str) -> dict[str, str]:
    if len(line) > MAX_LOG_LINE_CHARS:
        line = line[:MAX_LOG_LINE_CHARS] + "…"
    return {"at": at, "line": line}


def append_log_lines(doc: dict[str, Any], at: str, lines: list[str]) -> None:
    """Append to a raw job document's log, keeping only the last MAX_LOG_LINES."""
    log = doc.get("log")
    entries: list[Any] = list(log) if isinstance(log, list) else []
    entries.extend(log_entry(at, line) for line in lines)
    if len(entries) > MAX_LOG_LINES:
        doc["log_dropped"] = int(doc.get("log_dropped", 0)) + len(entries) - MAX_LOG_LINES
        entries = entries[-MAX_LOG_LINES:]
    doc["log"] = entries


def new_job_doc(
    job_id: str,
    worker: str,
    message: dict[str, Any],
    *,
    now: str,
    max_attempts: int,
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """A raw queued job document, due at once."""
    return {
        "_id": job_id,
        "worker": worker,
        "message": message,
        "state": QUEUED,
        "queued_at": now,
        "started_at": None,
        "finished_at": None,
        "attempts": 0,
        "max_attempts": max_attempts,
        "error": None,
        "result": None,
        "log": [],
        "trigger_id": trigger_id,
        "due_at": now,
        "claimed_by": None,
        "lease_until": None,
    }
