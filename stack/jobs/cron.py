"""Cron expressions for `@cron` triggers: parsing and "next time after".

Five fields (`minute hour day-of-month month day-of-week`, as in crontab) or six with
seconds first (`second minute …`, as cozy-stack's `@cron` takes them). Each field is a
comma list of `*`, `N`, `A-B`, with an optional `/STEP`; months and week days also take
English names (`jan`, `mon`); week day 7 is Sunday like 0; `?` means `*`. The macros
`@yearly @annually @monthly @weekly @daily @midnight @hourly` stand for their usual
expressions. Times are UTC.

When both day fields are restricted a day matches if EITHER does (Vixie cron's rule, which
croniter and every crontab follow); a field counts as unrestricted when it starts with `*`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["CronError", "CronSchedule"]

# A `day-of-month AND month AND weekday` combination repeats within 28 years (the
# Gregorian weekday cycle for leap days); one more and a schedule that never fires shows.
_SEARCH_YEARS = 29

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_WEEKDAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ValueError):
    """The expression is not a cron schedule this parser understands, or never fires."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_SECOND = _Field("second", 0, 59)
_MINUTE = _Field("minute", 0, 59)
_HOUR = _Field("hour", 0, 23)
_DAY = _Field("day of month", 1, 31)
_MONTH = _Field("month", 1, 12, _MONTHS)
# 0-7: both 0 and 7 are Sunday; folded to 0 after parsing.
_WEEKDAY = _Field("day of week", 0, 7, _WEEKDAYS)


def _number(text: str, field: _Field) -> int:
    lowered = text.lower()
    if field.names and lowered in field.names:
        return field.names[lowered]
    if not text.isdigit():
        raise CronError(f"{text!r} is not a valid {field.name}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{field.name} {value} is outside {field.low}-{field.high}")
    return value


def _parse_field(text: str, field: _Field) -> frozenset[int]:
    if not text:
        raise CronError(f"empty {field.name} field")
    values: set[int] = set()
    for item in text.split(","):
        body, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"invalid step {step_text!r} in the {field.name} field")
            step = int(step_text)
        if body in ("*", "?"):
            low, high = field.low, field.high
        elif "-" in body:
            start_text, _, end_text = body.partition("-")
            low, high = _number(start_text, field), _number(end_text, field)
            if low > high:
                raise CronError(f"the {field.name} range {body!r} runs backwards")
        else:
            low = _number(body, field)
            # `5/15` means "from 5, every 15", as in cronie and croniter.
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 = Sunday … 6 = Saturday
    any_day: bool  # the day-of-month field started with `*`
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        text = " ".join(expression.split())
        fields = _MACROS.get(text.lower(), text).split(" ")
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise CronError(
                f"a cron expression has 5 fields (minute hour day month weekday) or 6 with "
                f"seconds first; {expression!r} has {len(fields)}"
            )
        second, minute, hour, day, month, weekday = fields
        weekdays = _parse_field(weekday, _WEEKDAY)
        schedule = cls(
            expression=text,
            seconds=tuple(sorted(_parse_field(second, _SECOND))),
            minutes=tuple(sorted(_parse_field(minute, _MINUTE))),
            hours=tuple(sorted(_parse_field(hour, _HOUR))),
            days=_parse_field(day, _DAY),
            months=tuple(sorted(_parse_field(month, _MONTH))),
            weekdays=frozenset(d % 7 for d in weekdays),
            any_day=day[0] in "*?",
            any_weekday=weekday[0] in "*?",
        )
        if schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
            raise CronError(f"the cron expression {expression!r} never fires")
        return schedule

    def day_matches(self, day: date) -> bool:
        in_month = day.day in self.days
        # Python: Monday = 0; cron: Sunday = 0.
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def matches(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        return (
            moment.month in self.months
            and self.day_matches(moment.date())
            and moment.hour in self.hours
            and moment.minute in self.minutes
            and moment.second in self.seconds
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first matching second strictly after `moment` (UTC), or None if none comes
        within the next 29 years (which means never)."""
        start = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        limit = start.year + _SEARCH_YEARS
        t = start
        while t.year <= limit:
            month = _first_at_least(self.months, t.month)
            if month is None:
                t = datetime(t.year + 1, 1, 1, tzinfo=UTC)
                continue
            if month != t.month:
                t = datetime(t.year, month, 1, tzinfo=UTC)
                continue
            if not self.day_matches(t.date()):
                t = _next_day(t)
                continue
            hour = _first_at_least(self.hours, t.hour)
            if hour is None:
                t = _next_day(t)
                continue
            if hour != t.hour:
                t = t.replace(hour=hour, minute=0, second=0)
                continue
            minute = _first_at_least(self.minutes, t.minute)
            if minute is None:
                t = t.replace(minute=0, second=0) + timedelta(hours=1)
                continue
            if minute != t.minute:
                t = t.replace(minute=minute, second=0)
                continue
            second = _first_at_least(self.seconds, t.second)
            if second is None:
                t = t.replace(second=0) + timedelta(minutes=1)
                continue
            return t.replace(second=second)
        return None


def _first_at_least(values: tuple[int, ...], floor: int) -> int | None:
    index = bisect.bisect_left(values, floor)
    return values[index] if index < len(values) else None


def _next_day(moment: datetime) -> datetime:
    following = moment.date() + timedelta(days=1)
    return datetime(following.year, following.month, following.day, tzinfo=UTC)
