"""Optimistic concurrency for file documents: write, and on a stale revision re-read and
write again, a bounded number of times."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from roost.errors import Conflict
from roost.vfs.errors import WriteConflict

ATTEMPTS: Final = 20

Current = TypeVar("Current")
Result = TypeVar("Result")


async def retry_on_conflict(
    write: Callable[[Current], Awaitable[Result]],
    first: Current,
    reread: Callable[[], Awaitable[Current]],
    *,
    action: str,
) -> Result:
    """`write(current)`; on `WriteConflict`, `current = reread()` and again.

    Only `WriteConflict` (someone wrote the document meanwhile) is retried: any other error
    of `write` — a pinned revision that differs, a file moved away — is the answer.
    Concurrent writers thus all succeed, one after the other, unless this keeps losing.
    """
    current = first
    for _ in range(ATTEMPTS):
        try:
            return await write(current)
        except WriteConflict:
            current = await reread()
    raise Conflict(f"the file kept changing during the {action}; try again")
