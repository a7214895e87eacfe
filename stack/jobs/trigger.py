"""The trigger document (`io.cozy.triggers`): when to queue a job for a worker.

Time-based triggers (`@at @in @every @cron`) carry `next_run_at`, the instant of their next
run, indexed like a job's `due_at`. `@event` triggers are matched in memory against the
changes the stack reports; `@webhook` triggers fire on `POST /jobs/webhooks/{id}` — their id
is 128 random bits, the only secret a webhook caller holds.

An `@event` trigger may carry a `debounce` (`"2s"`, `"500ms"`, `"1m"`, as cozy-stack's): the
first matching change starts the delay, the changes that follow within it join, and one job
is queued at its end, told of them all (`events`). A statement of 10,000 operations then
gives one run of a categoriser, not 10,000.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from roost.jobs.errors import InvalidTrigger
from roost.jobs.events import EventRule, parse_event_rules
from roost.jobs.schedule import TIME_TRIGGER_TYPES, TimeSchedule, parse_time_schedule

TRIGGERS_DOCTYPE: Final = "io.cozy.triggers"
TRIGGER_TYPES: Final = (*TIME_TRIGGER_TYPES, "@event", "@webhook")
#: The longest debounce: changes wait at most this long for their job.
MAX_DEBOUNCE_SECONDS: Final = 600.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0}


def parse_debounce(text: str) -> float:
    """Seconds of a debounce like `"2s"`, `"500ms"`, `"1m"` (InvalidTrigger otherwise)."""
    found = _DURATION.match(text.strip()) if isinstance(text, str) else None
    seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2)] if found else 0.0
    if not 0 < seconds <= MAX_DEBOUNCE_SECONDS:
        raise InvalidTrigger(
            f"a debounce is a duration like 2s, 500ms or 1m, at most 10m, not {text!r}"
        )
    return seconds


@dataclass(frozen=True)
class TriggerDoc:
    id: str
    rev: str
    type: str
    arguments: str
    worker: str
    message: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    next_run_at: str | None = None
    last_run_at: str | None = None
    last_job_id: str | None = None
    #: Set while its runs keep hitting a budget: why, and until when occurrences are skipped.
    failing: str | None = None
    backoff_until: str | None = None
    #: `@event` only: changes within this delay make one job (see the module's docstring).
    debounce: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> TriggerDoc:
        message = doc.get("message")
        return cls(
            id=str(doc["_id"]),
            rev=str(doc.get("_rev", "")),
            type=str(doc.get("type", "")),
            arguments=str(doc.get("arguments", "")),
            worker=str(doc.get("worker", "")),
            message=dict(message) if isinstance(message, Mapping) else {},
            created_at=str(doc.get("created_at", "")),
            next_run_at=doc.get("next_run_at"),
            last_run_at=doc.get("last_run_at"),
            last_job_id=doc.get("last_job_id"),
            failing=doc.get("failing"),
            backoff_until=doc.get("backoff_until"),
            debounce=doc.get("debounce") if isinstance(doc.get("debounce"), str) else None,
        )

    @property
    def is_time_based(self) -> bool:
        return self.type in TIME_TRIGGER_TYPES

    def schedule(self) -> TimeSchedule:
        return parse_time_schedule(self.type, self.arguments)

    @property
    def debounce_seconds(self) -> float | None:
        if self.type != "@event" or not self.debounce:
            return None
        try:
            return parse_debounce(self.debounce)
        except InvalidTrigger:
            return None  # written by something else than this service: fire at once

    def event_rules(self) -> tuple[EventRule, ...]:
        if self.type != "@event":
            return ()
        return parse_event_rules(self.arguments)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "_id": self.id,
            "_rev": self.rev,
            "_type": TRIGGERS_DOCTYPE,
            "type": self.type,
            "arguments": self.arguments,
            "worker": self.worker,
            "message": self.message,
            "created_at": self.created_at,
            "next_run_at": self.next_run_at,
            "last_run_at": self.last_run_at,
            "last_job_id": self.last_job_id,
        }
        if self.debounce:
            body["debounce"] = self.debounce
        if self.failing:
            body.update(state="failing", failing=self.failing, backoff_until=self.backoff_until)
        if self.debounce:
            body["debounce"] = self.debounce
        if self.type == "@webhook":
            body["webhook"] = f"/jobs/webhooks/{self.id}"
        return body


def validate_trigger(kind: str, arguments: str, debounce: str | None = None) -> None:
    """Raise InvalidTrigger unless `kind` and `arguments` make a trigger that can fire."""
    if debounce is not None:
        if kind != "@event":
            raise InvalidTrigger("only @event triggers take a debounce")
        parse_debounce(debounce)
    if kind not in TRIGGER_TYPES:
        raise InvalidTrigger(f"a trigger type is one of {', '.join(TRIGGER_TYPES)}, not {kind!r}")
    if kind in TIME_TRIGGER_TYPES:
        parse_time_schedule(kind, arguments)
    elif kind == "@event":
        parse_event_rules(arguments)
    elif arguments.strip():
        raise InvalidTrigger("@webhook takes no arguments")


def trigger_problem(kind: str, arguments: str, debounce: str | None = None) -> str | None:
    """Why `kind` and `arguments` make no valid trigger, or None: the one trigger grammar.

    `roost.apps` takes it as its `TriggerGrammar` port, so a manifest and `POST /jobs/triggers`
    get the same answer for every trigger.
    """
    try:
        validate_trigger(kind, arguments, debounce)
    except InvalidTrigger as error:
        return error.reason
    return None
