"""How many rows a filtered feed asks the store for: what is still wanted, scaled by the
share of rows that passed so far, with a small margin."""

from __future__ import annotations

from roost.replication.changes import MIN_PAGE, PAGE_SIZE, _page_size


def test_a_page_is_what_is_wanted_over_the_share_that_passed_with_five_percent_more() -> None:
    # A device asked for 100 rows; half the rows passed so far: 200, and 5 % more.
    assert _page_size(100, sent=0, read=40, passed=20) == 210
    # The previous request of the same feed tells the share before anything is read.
    assert _page_size(100, sent=0, read=0, passed=0, prior=0.5) == 210
    assert _page_size(100, sent=60, read=120, passed=60) == 84


def test_a_page_stays_within_its_bounds() -> None:
    assert _page_size(None, sent=0, read=0, passed=0) == PAGE_SIZE  # no limit asked
    assert _page_size(100, sent=0, read=50, passed=0) == PAGE_SIZE  # nothing passed yet
    assert _page_size(1000, sent=0, read=100, passed=10) == PAGE_SIZE
    assert _page_size(3, sent=0, read=100, passed=100) == MIN_PAGE
