"""The retry-on-conflict helper: a stale write is re-read and retried, any other error is
the answer, and a writer that keeps losing gets a conflict."""

from __future__ import annotations

import pytest

from roost.errors import Conflict
from roost.vfs import StaleRevision, WriteConflict
from roost.vfs.retry import ATTEMPTS, retry_on_conflict


async def test_a_stale_write_is_retried_on_a_fresh_read() -> None:
    seen: list[int] = []
    reads = iter(range(1, 100))

    async def write(current: int) -> str:
        seen.append(current)
        if current < 3:
            raise WriteConflict("stale")
        return f"written from {current}"

    async def reread() -> int:
        return next(reads)

    assert await retry_on_conflict(write, 0, reread, action="update") == "written from 3"
    assert seen == [0, 1, 2, 3]


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def write(current: int) -> None:
        nonlocal calls
        calls += 1
        raise StaleRevision("pinned revision differs")

    async def reread() -> int:
        return 0

    with pytest.raises(StaleRevision):
        await retry_on_conflict(write, 0, reread, action="update")
    assert calls == 1


async def test_a_writer_that_keeps_losing_gets_a_conflict() -> None:
    calls = 0

    async def write(current: int) -> None:
        nonlocal calls
        calls += 1
        raise WriteConflict("stale")

    async def reread() -> int:
        return 0

    with pytest.raises(Conflict, match="kept changing during the move"):
        await retry_on_conflict(write, 0, reread, action="move")
    assert calls == ATTEMPTS
