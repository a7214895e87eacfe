"""`roost serve` sets what it keeps for life aside from the cycle collector's walks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from roost.heap import settle_after_start_up


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process goes on collecting as before


class Kept:
    """Something built at start-up that the process keeps."""


class Later:
    """Something made while serving."""


@pytest.mark.usefixtures("unfrozen")
def test_what_survived_start_up_is_no_longer_walked_and_later_objects_still_are():
    kept = Kept()
    assert any(obj is kept for obj in gc.get_objects())

    set_aside = settle_after_start_up()

    assert set_aside >= 1
    assert not any(obj is kept for obj in gc.get_objects())
    later = Later()
    assert any(obj is later for obj in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
def test_garbage_made_after_start_up_is_still_collected():
    settle_after_start_up()
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
