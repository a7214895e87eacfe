"""The dates a listing shows: the same text as the standard library's formatting, faster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

from hypothesis import given
from hypothesis import strategies as st

from roost.webdav.dates import dates, http_date, iso_date, parse_iso

_EPOCH = datetime.fromtimestamp(0, UTC)

moments = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def reference(iso: str) -> tuple[str, str]:
    """What a listing showed before: the full timestamp parsed and formatted by the stdlib."""
    moment = (parse_iso(iso) or _EPOCH).astimezone(UTC)
    return format_datetime(moment, usegmt=True), moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@given(moments, offsets)
def test_an_http_date_is_what_format_datetime_writes_in_gmt(moment: datetime, zone: timezone):
    assert http_date(moment.astimezone(zone)) == format_datetime(moment, usegmt=True)


@given(moments, offsets)
def test_an_iso_date_is_utc_to_the_second(moment: datetime, zone: timezone):
    assert iso_date(moment.astimezone(zone)) == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@given(moments)
def test_a_timestamp_as_roost_writes_it_shows_its_second(moment: datetime):
    iso = moment.isoformat().replace("+00:00", "Z")  # filedoc.now_iso's form
    assert dates(iso) == reference(iso)


@given(moments, offsets)
def test_a_timestamp_with_an_offset_is_shown_in_gmt(moment: datetime, zone: timezone):
    iso = moment.astimezone(zone).isoformat()
    assert dates(iso) == reference(iso)


@given(st.text(max_size=40))
def test_any_other_text_is_shown_as_it_was(text: str):
    assert dates(text) == reference(text)


def test_the_timestamps_of_one_second_share_their_text():
    first = dates("2026-12-07T04:43:56.000001Z")
    assert first == ("Mon, 07 Dec 2026 04:43:56 GMT", "2026-12-07T04:43:56Z")
    assert dates("2026-12-07T04:43:56.999999Z") == first
    assert dates("2026-12-07T04:43:57.000000Z")[1] == "2026-12-07T04:43:57Z"


def test_a_malformed_fraction_is_not_taken_for_its_second():
    assert dates("2026-12-07T04:43:56.x1Z") == reference("2026-12-07T04:43:56.x1Z")
    assert dates("2026-12-07T04:43:56.x1Z")[1] == "1970-01-01T00:00:00Z"
