"""Times as WebDAV writes and reads them: HTTP dates, ISO 8601, X-OC-Mtime, Win32 times."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from .errors import BadRequest
from .ports import Entry

_EPOCH = datetime.fromtimestamp(0, UTC)


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def updated_datetime(entry: Entry) -> datetime:
    return parse_iso(entry.updated_at) or _EPOCH


def created_datetime(entry: Entry) -> datetime:
    return parse_iso(entry.created_at) or updated_datetime(entry)


@functools.lru_cache(maxsize=4096)
def dates(iso: str) -> tuple[str, str]:
    """An ISO 8601 timestamp as (RFC 1123 for getlastmodified, ISO for creationdate)."""
    moment = parse_iso(iso) or _EPOCH
    return http_date(moment), iso_date(moment)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def iso_date(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mtime_header(value: str | None) -> str | None:
    """`X-OC-Mtime: 1577836800` (seconds since the epoch, as rclone and ownCloud send it)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise BadRequest("X-OC-Mtime must be seconds since the epoch") from None
    if not 0 <= seconds < 253402300800:
        raise BadRequest("X-OC-Mtime is out of range")
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat().replace("+00:00", "Z")


def win32_time(text: str) -> str | None:
    try:
        moment = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
