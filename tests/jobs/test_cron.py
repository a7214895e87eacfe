"""Cron expressions: parsing, matching, and the next time after a given instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roost.jobs.cron import CronError, CronSchedule


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * *", utc(2025, 1, 1, 10, 0, 30), utc(2025, 1, 1, 10, 1)),
        ("*/15 * * * *", utc(2025, 1, 1, 10, 1), utc(2025, 1, 1, 10, 15)),
        ("*/15 * * * *", utc(2025, 1, 1, 10, 45), utc(2025, 1, 1, 11, 0)),
        ("0 0 * * *", utc(2025, 1, 31, 23, 59, 59), utc(2025, 2, 1)),
        ("30 8 * * mon-fri", utc(2025, 6, 6, 9), utc(2025, 6, 9, 8, 30)),  # Fri → Mon
        ("0 12 1 * *", utc(2025, 12, 1, 12), utc(2026, 1, 1, 12)),
        ("0 0 29 2 *", utc(2025, 3, 1), utc(2028, 2, 29)),
        ("0 0 1 jan,jul *", utc(2025, 2, 1), utc(2025, 7, 1)),
        ("5/20 * * * *", utc(2025, 1, 1, 10, 26), utc(2025, 1, 1, 10, 45)),
        ("0 9 * * 7", utc(2025, 6, 2), utc(2025, 6, 8, 9)),  # 7 is Sunday
        ("0 9 * * 0", utc(2025, 6, 2), utc(2025, 6, 8, 9)),
        # Both day fields restricted: the 13th OR any Friday (Vixie cron).
        ("0 0 13 * 5", utc(2025, 6, 1), utc(2025, 6, 6)),
        ("0 0 13 * 5", utc(2025, 6, 10), utc(2025, 6, 13)),
        # A `*/n` day field counts as unrestricted: both must match.
        ("0 0 */2 * 1", utc(2025, 6, 1), utc(2025, 6, 9)),
        # Six fields: seconds first, as cozy-stack's @cron.
        ("*/10 * * * * *", utc(2025, 1, 1, 0, 0, 5), utc(2025, 1, 1, 0, 0, 10)),
        ("0 30 9 * * *", utc(2025, 1, 1, 9, 30), utc(2025, 1, 2, 9, 30)),
        ("@hourly", utc(2025, 1, 1, 9, 30), utc(2025, 1, 1, 10)),
        ("@daily", utc(2025, 1, 1, 9, 30), utc(2025, 1, 2)),
        ("@weekly", utc(2025, 6, 2), utc(2025, 6, 8)),
        ("@monthly", utc(2025, 6, 2), utc(2025, 7, 1)),
        ("@yearly", utc(2025, 6, 2), utc(2026, 1, 1)),
        ("0 0 ? * MON", utc(2025, 6, 3), utc(2025, 6, 9)),
    ],
)
def test_next_after(expression: str, after: datetime, expected: datetime) -> None:
    assert CronSchedule.parse(expression).next_after(after) == expected


def test_next_after_is_strict_and_ignores_microseconds() -> None:
    schedule = CronSchedule.parse("0 * * * *")
    assert schedule.next_after(utc(2025, 1, 1, 10)) == utc(2025, 1, 1, 11)
    assert schedule.next_after(utc(2025, 1, 1, 9, 59, 59) + timedelta(microseconds=999_999)) == utc(
        2025, 1, 1, 10
    )


def test_other_time_zones_are_converted_to_utc() -> None:
    from datetime import timezone

    paris_summer = timezone(timedelta(hours=2))
    after = datetime(2025, 6, 1, 10, 0, tzinfo=paris_summer)  # 08:00 UTC
    assert CronSchedule.parse("0 9 * * *").next_after(after) == utc(2025, 6, 1, 9)


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "* * * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
        "1,,2 * * * *",
        "-1 * * * *",
        "* * * foo *",
        "0 0 30 2 *",  # never fires
        "0 0 31 4,6,9,11 *",  # never fires either
    ],
)
def test_invalid_expressions(expression: str) -> None:
    with pytest.raises(CronError):
        CronSchedule.parse(expression)


@given(st.text(alphabet="0123456789*/,-? abcdefghijklmnopqrstuvwxyz@", max_size=40))
def test_any_text_parses_or_raises_cron_error(text: str) -> None:
    try:
        schedule = CronSchedule.parse(text)
    except CronError:
        return
    upcoming = schedule.next_after(utc(2025, 1, 1))
    assert upcoming is not None and schedule.matches(upcoming)


# -- an independent model: generated fields, rendered to text, checked minute by minute ----

_BOUNDS = {"minute": (0, 59), "hour": (0, 23), "day": (1, 31), "month": (1, 12), "weekday": (0, 6)}


@st.composite
def cron_field(draw: st.DrawFn, name: str) -> tuple[str, frozenset[int], bool]:
    """(text, allowed values, is star) for one field, built from items whose meaning the
    test computes itself."""
    low, high = _BOUNDS[name]
    if draw(st.booleans()):
        step = draw(st.sampled_from([1, 1, 2, 3, 5, 7]))
        text = "*" if step == 1 else f"*/{step}"
        return text, frozenset(range(low, high + 1, step)), True
    items: list[str] = []
    values: set[int] = set()
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(low, high))
        end = draw(st.integers(start, min(high, start + 12)))
        step = draw(st.sampled_from([1, 1, 2, 3]))
        if start == end:
            items.append(str(start))
            values.add(start)
        else:
            items.append(f"{start}-{end}" + (f"/{step}" if step > 1 else ""))
            values.update(range(start, end + 1, step))
    return ",".join(items), frozenset(values), False


def _model_matches(
    moment: datetime,
    fields: dict[str, tuple[str, frozenset[int], bool]],
) -> bool:
    day_ok = moment.day in fields["day"][1]
    weekday_ok = (moment.isoweekday() % 7) in fields["weekday"][1]
    if fields["day"][2] or fields["weekday"][2]:
        days = day_ok and weekday_ok
    else:
        days = day_ok or weekday_ok
    return (
        moment.minute in fields["minute"][1]
        and moment.hour in fields["hour"][1]
        and moment.month in fields["month"][1]
        and days
    )


HORIZON_MINUTES = 3 * 24 * 60


@settings(max_examples=100, deadline=None)
@given(
    minute=cron_field("minute"),
    hour=cron_field("hour"),
    day=cron_field("day"),
    month=cron_field("month"),
    weekday=cron_field("weekday"),
    start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1)),
)
def test_next_after_agrees_with_a_minute_by_minute_search(
    minute: tuple[str, frozenset[int], bool],
    hour: tuple[str, frozenset[int], bool],
    day: tuple[str, frozenset[int], bool],
    month: tuple[str, frozenset[int], bool],
    weekday: tuple[str, frozenset[int], bool],
    start: datetime,
) -> None:
    fields = {"minute": minute, "hour": hour, "day": day, "month": month, "weekday": weekday}
    expression = " ".join(f[0] for f in fields.values())
    start = start.replace(tzinfo=UTC)
    try:
        schedule = CronSchedule.parse(expression)
    except CronError as error:
        # Only a schedule that never fires may be refused.
        assert "never fires" in str(error)
        return
    upcoming = schedule.next_after(start)
    assert upcoming is not None
    assert upcoming > start
    assert upcoming.second == 0
    assert _model_matches(upcoming, fields)
    moment = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    for _ in range(HORIZON_MINUTES):
        if moment >= upcoming:
            break
        assert not _model_matches(moment, fields), f"{expression}: {moment} was skipped"
        moment += timedelta(minutes=1)
