"""A request to create a share link, checked field by field before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from roost.permissions import FILES_DOCTYPE
from roost.sharing.errors import InvalidShareRequest

ALBUMS_DOCTYPE: Final = "io.cozy.photos.albums"
SHAREABLE_DOCTYPES: Final = (FILES_DOCTYPE, ALBUMS_DOCTYPE)
KINDS: Final = ("read", "drop")
MIN_PASSWORD: Final = 4
MAX_PASSWORD: Final = 256
MAX_ID: Final = 128
# Further than this is a typo (year 20250), not a plan.
MAX_LIFETIME: Final = timedelta(days=3660)
_FIELDS: Final = frozenset({"target", "kind", "expires_at", "password"})
_TARGET_FIELDS: Final = frozenset({"type", "id"})


@dataclass(frozen=True)
class LinkRequest:
    doctype: str
    target_id: str
    kind: str
    expires_at: datetime | None
    password: str | None


def _expiry(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidShareRequest("expires_at must be a date-time string or null")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidShareRequest(
            "expires_at must be an ISO 8601 date-time such as 2030-01-31T23:59:59+01:00"
        ) from None
    if moment.tzinfo is None:
        raise InvalidShareRequest("expires_at must say its time zone (Z or +01:00)")
    moment = moment.astimezone(UTC)
    if moment <= now:
        raise InvalidShareRequest("expires_at is in the past: a link must expire later")
    if moment - now > MAX_LIFETIME:
        raise InvalidShareRequest("expires_at is more than ten years away")
    return moment


def _password(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidShareRequest("password must be a string or null")
    if len(value) > MAX_PASSWORD:
        raise InvalidShareRequest(f"a password is at most {MAX_PASSWORD} characters")
    if len(value) < MIN_PASSWORD:
        raise InvalidShareRequest(f"a password has at least {MIN_PASSWORD} characters")
    return value


def parse_link_request(body: Any, now: datetime) -> LinkRequest:
    """The request in `body` (parsed JSON), or InvalidShareRequest saying what is wrong."""
    if not isinstance(body, dict):
        raise InvalidShareRequest("the body must be a JSON object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise InvalidShareRequest(f"unknown field {sorted(unknown)[0]!r}")
    target = body.get("target")
    if not isinstance(target, dict) or set(target) != _TARGET_FIELDS:
        raise InvalidShareRequest('target must be {"type": …, "id": …}')
    doctype, target_id = target["type"], target["id"]
    if doctype not in SHAREABLE_DOCTYPES:
        raise InvalidShareRequest(f"target.type must be one of {', '.join(SHAREABLE_DOCTYPES)}")
    if not isinstance(target_id, str) or not target_id or len(target_id) > MAX_ID:
        raise InvalidShareRequest(f"target.id must be a string of 1 to {MAX_ID} characters")
    kind = body.get("kind", "read")
    if kind not in KINDS:
        raise InvalidShareRequest("kind must be read or drop")
    if kind == "drop" and doctype != FILES_DOCTYPE:
        raise InvalidShareRequest("a drop link is for a folder")
    return LinkRequest(
        doctype=doctype,
        target_id=target_id,
        kind=kind,
        expires_at=_expiry(body.get("expires_at"), now),
        password=_password(body.get("password")),
    )
