"""The access log writes a bounded number of entries a minute per instance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from roost.access_log import MAX_ENTRIES_PER_MINUTE, AccessEntry, AccessLog
from roost.instances import Instance
from roost.services import Services


async def test_a_flood_of_entries_is_capped_per_instance_and_minute(
    services: Services, new_instance: Callable[..., Awaitable[Instance]]
) -> None:
    log = AccessLog(services.couch)
    noisy, quiet = await new_instance("noisy"), await new_instance("quiet")
    for _ in range(MAX_ENTRIES_PER_MINUTE + 150):
        log.record(noisy, AccessEntry(principal="app:flood", verb="GET", doctype="io.cozy.x"))
    log.record(quiet, AccessEntry(principal="app:calm", verb="GET", doctype="io.cozy.y"))
    await log.aclose()
    written = await log.query(noisy, limit=MAX_ENTRIES_PER_MINUTE + 200)
    assert len(written) == MAX_ENTRIES_PER_MINUTE
    # The other instance's entry is written: the cap is per instance.
    assert [e["principal"] for e in await log.query(quiet)] == ["app:calm"]
