"""When time-based triggers fire (`@at`, `@in`, `@every`, `@cron`): pure computations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.jobs.errors import InvalidTrigger
from roost.jobs.schedule import (
    AtSchedule,
    CronTrigger,
    EverySchedule,
    InSchedule,
    parse_time_schedule,
)
from roost.jobs.times import format_time, parse_time
from roost.jobs.trigger import validate_trigger
from roost.jobs.workers import MAX_BACKOFF_SECONDS, WorkerSpec

CREATED = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def test_at_fires_once_at_its_date() -> None:
    schedule = parse_time_schedule("@at", "2030-01-31T08:00:00Z")
    assert isinstance(schedule, AtSchedule)
    assert schedule.first(CREATED) == datetime(2030, 1, 31, 8, tzinfo=UTC)
    assert schedule.following(schedule.first(CREATED), CREATED) is None


def test_at_takes_offsets_and_naive_dates_as_utc() -> None:
    assert parse_time_schedule("@at", "2030-01-31T10:00:00+02:00").first(CREATED) == datetime(
        2030, 1, 31, 8, tzinfo=UTC
    )
    assert parse_time_schedule("@at", "2030-01-31T08:00:00").first(CREATED) == datetime(
        2030, 1, 31, 8, tzinfo=UTC
    )


def test_in_fires_once_after_its_delay() -> None:
    schedule = parse_time_schedule("@in", "1h30m")
    assert isinstance(schedule, InSchedule)
    assert schedule.first(CREATED) == CREATED + timedelta(hours=1, minutes=30)
    assert schedule.following(CREATED, CREATED) is None


def test_every_keeps_its_rhythm() -> None:
    schedule = parse_time_schedule("@every", "30m")
    assert isinstance(schedule, EverySchedule)
    first = schedule.first(CREATED)
    assert first == CREATED + timedelta(minutes=30)
    # Fired on time: the next beat.
    assert schedule.following(first, first + timedelta(seconds=1)) == first + timedelta(minutes=30)


def test_every_skips_the_runs_missed_while_down() -> None:
    schedule = EverySchedule(timedelta(minutes=30))
    due = CREATED
    now = due + timedelta(days=7, minutes=10)
    assert schedule.following(due, now) == due + timedelta(days=7, minutes=30)


@given(
    interval=st.integers(1, 10 * 86400),
    late=st.integers(0, 400 * 86400),
)
def test_every_next_run_is_the_first_beat_after_now(interval: int, late: int) -> None:
    schedule = EverySchedule(timedelta(seconds=interval))
    due = CREATED
    now = due + timedelta(seconds=late)
    following = schedule.following(due, now)
    assert following is not None
    assert following > now
    assert following - timedelta(seconds=interval) <= now
    assert (following - due) % timedelta(seconds=interval) == timedelta(0)


def test_cron_trigger_first_and_following() -> None:
    schedule = parse_time_schedule("@cron", "0 0 * * *")
    assert isinstance(schedule, CronTrigger)
    assert schedule.first(CREATED) == datetime(2025, 3, 11, tzinfo=UTC)
    due = datetime(2025, 3, 11, tzinfo=UTC)
    # Fired late (the stack was down two days): the next midnight after now.
    assert schedule.following(due, due + timedelta(days=2, hours=3)) == datetime(
        2025, 3, 14, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("kind", "arguments"),
    [
        ("@at", "tomorrow"),
        ("@at", ""),
        ("@in", "soon"),
        ("@in", "0s"),
        ("@every", "-5m"),
        ("@every", "1x"),
        ("@cron", "* * *"),
        ("@cron", "0 0 31 2 *"),
        ("@hourly", ""),
    ],
)
def test_invalid_time_arguments(kind: str, arguments: str) -> None:
    with pytest.raises(InvalidTrigger):
        validate_trigger(kind, arguments)


def test_trigger_types() -> None:
    validate_trigger("@webhook", "")
    validate_trigger("@event", "io.cozy.contacts:CREATED")
    with pytest.raises(InvalidTrigger):
        validate_trigger("@webhook", "something")
    with pytest.raises(InvalidTrigger):
        validate_trigger("@client", "")


@given(st.datetimes(timezones=st.just(UTC)))
def test_times_format_sortably_and_round_trip(moment: datetime) -> None:
    text = format_time(moment)
    assert len(text) == len("2025-01-31T08:00:00.000000Z")
    assert parse_time(text) == moment


@given(st.datetimes(), st.datetimes())
def test_time_strings_sort_like_instants(a: datetime, b: datetime) -> None:
    a, b = a.replace(tzinfo=UTC), b.replace(tzinfo=UTC)
    assert (format_time(a) < format_time(b)) == (a < b)


async def _noop(*_: object) -> None:
    return None


def test_backoff_doubles_up_to_a_cap() -> None:
    spec = WorkerSpec("w", _noop, backoff_seconds=2.0)
    assert [spec.backoff(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert spec.backoff(40) == MAX_BACKOFF_SECONDS
    assert WorkerSpec("w", _noop, backoff_seconds=0).backoff(3) == 0


@pytest.mark.parametrize(
    "options",
    [{"concurrency": 0}, {"timeout_seconds": 0}, {"max_attempts": 0}, {"max_attempts": 99}],
)
def test_worker_limits_are_checked(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        WorkerSpec("w", _noop, **options)  # type: ignore[arg-type]
