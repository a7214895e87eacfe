"""When time-based triggers fire: `@at`, `@in`, `@every`, `@cron`.

Pure functions of their arguments and of "now", so they are tested without a clock.
A recurring trigger that missed runs (the stack was down) fires once, then resumes its
rhythm from now: a week offline does not replay a week of `@every 1m`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from roost.jobs.cron import CronError, CronSchedule
from roost.jobs.errors import InvalidTrigger
from roost.jobs.times import parse_time
from roost.tokens import parse_duration

__all__ = [
    "TIME_TRIGGER_TYPES",
    "AtSchedule",
    "CronTrigger",
    "EverySchedule",
    "InSchedule",
    "TimeSchedule",
    "parse_time_schedule",
]

TIME_TRIGGER_TYPES = ("@at", "@in", "@every", "@cron")


class TimeSchedule(Protocol):
    def first(self, created: datetime) -> datetime:
        """When a trigger created at `created` first fires."""
        ...

    def following(self, due: datetime, now: datetime) -> datetime | None:
        """After firing the run due at `due` (at `now`), when next; None: never again."""
        ...


@dataclass(frozen=True)
class AtSchedule:
    moment: datetime

    def first(self, created: datetime) -> datetime:
        return self.moment

    def following(self, due: datetime, now: datetime) -> datetime | None:
        return None


@dataclass(frozen=True)
class InSchedule:
    delay: timedelta

    def first(self, created: datetime) -> datetime:
        return created + self.delay

    def following(self, due: datetime, now: datetime) -> datetime | None:
        return None


@dataclass(frozen=True)
class EverySchedule:
    interval: timedelta

    def first(self, created: datetime) -> datetime:
        return created + self.interval

    def following(self, due: datetime, now: datetime) -> datetime | None:
        # The first beat of the rhythm `due + k·interval` that lies after now.
        if now < due:
            return due + self.interval
        skipped = (now - due) // self.interval
        return due + (skipped + 1) * self.interval


@dataclass(frozen=True)
class CronTrigger:
    cron: CronSchedule

    def first(self, created: datetime) -> datetime:
        return self._after(created)

    def following(self, due: datetime, now: datetime) -> datetime | None:
        return self._after(max(due, now))

    def _after(self, moment: datetime) -> datetime:
        upcoming = self.cron.next_after(moment)
        if upcoming is None:  # parse() refuses schedules that never fire
            raise InvalidTrigger(f"the cron expression {self.cron.expression!r} never fires")
        return upcoming


def _duration(kind: str, arguments: str) -> timedelta:
    try:
        return parse_duration(arguments)
    except ValueError:
        raise InvalidTrigger(
            f"{kind} takes a duration such as 30s, 15m, 1h30m or 2d, not {arguments!r}"
        ) from None


def parse_time_schedule(kind: str, arguments: str) -> TimeSchedule:
    """The schedule of a time-based trigger; InvalidTrigger if the arguments are wrong."""
    arguments = arguments.strip()
    if kind == "@at":
        try:
            return AtSchedule(parse_time(arguments))
        except ValueError:
            raise InvalidTrigger(
                f"@at takes an ISO 8601 date-time such as 2030-01-31T08:00:00Z, not {arguments!r}"
            ) from None
    if kind == "@in":
        return InSchedule(_duration(kind, arguments))
    if kind == "@every":
        return EverySchedule(_duration(kind, arguments))
    if kind == "@cron":
        try:
            return CronTrigger(CronSchedule.parse(arguments))
        except CronError as error:
            raise InvalidTrigger(str(error)) from None
    raise InvalidTrigger(f"{kind!r} is not a time-based trigger type")
