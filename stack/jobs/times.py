"""How jobs and triggers write time: UTC, fixed width, so strings sort like instants.

Mango selectors compare `due_at` / `next_run_at` as strings (`$lte: now`); that only
orders correctly when every stamp has the same width and zone, hence one formatter.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_time(moment: datetime) -> str:
    """`2025-01-31T08:00:00.000000Z` (always microseconds, always UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat pads the year to four digits; strftime("%Y") does not on every platform.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    """An ISO 8601 date-time; a naive one is taken as UTC. Raises ValueError."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
