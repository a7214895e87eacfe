"""Reading a `/files` request: query parameters and headers, all checked before any byte
of a body is read (a clear 400 names the faulty one)."""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request

from roost.errors import BadRequest
from roost.vfs import FileDoc, StaleRevision
from roost.vfs.metadata import valid_tags, valid_time

DEFAULT_PAGE: Final = 30
MAX_PAGE: Final = 1000
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


def bool_param(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false")
    return value.lower() in ("true", "1")


def tags_param(request: Request) -> list[str]:
    tags: list[str] = []
    for raw in request.query_params.getlist("Tags") + request.query_params.getlist("Tags[]"):
        tags.extend(part.strip() for part in raw.split(","))
    return valid_tags([tag for tag in tags if tag])


def time_param(request: Request, name: str) -> str | None:
    return valid_time(request.query_params.get(name), name)


def date_header(request: Request) -> str | None:
    """The HTTP `Date` header as ISO 8601 (cozy-stack takes it as the modification time)."""
    raw = request.headers.get("date")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise BadRequest("the Date header is not an HTTP date") from None
    return moment.isoformat().replace("+00:00", "Z")


def declared_size(request: Request) -> int | None:
    raw = request.headers.get("content-length") or request.query_params.get("Size")
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise BadRequest("Content-Length (or Size) must be a non-negative integer")
    return int(raw)


def content_md5(request: Request) -> str | None:
    raw = request.headers.get("content-md5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Content-MD5 must be the base64 of a 16-byte MD5 digest") from None
    if len(digest) != 16:
        raise BadRequest("Content-MD5 must be the base64 of a 16-byte MD5 digest")
    return base64.b64encode(digest).decode()


def content_type(request: Request) -> str | None:
    """The mime type the client declares, unless it says nothing useful."""
    raw = request.headers.get("content-type")
    if not raw:
        return None
    mime = raw.split(";")[0].strip().lower()
    if mime == "application/octet-stream" or not _MIME.match(mime):
        return None
    return mime


def if_match(request: Request, doc: FileDoc) -> str | None:
    """The revision an `If-Match` pins (a rev, or the ETag given by a download), or None.

    StaleRevision (412) at once when it names neither the current rev nor the content.
    """
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    for candidate in header.split(","):
        value = candidate.strip().removeprefix("W/").strip()
        if value.strip('"') == doc.rev or value == doc.etag:
            return doc.rev
    raise StaleRevision("the file has changed (If-Match does not match its revision)")


def page(request: Request, default: int = DEFAULT_PAGE) -> tuple[int, str | None]:
    raw_limit = request.query_params.get("page[limit]")
    limit = default
    if raw_limit is not None:
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise BadRequest("page[limit] must be a positive integer")
        limit = min(int(raw_limit), MAX_PAGE)
    cursor = request.query_params.get("page[cursor]") or None
    return limit, cursor


def next_link(request: Request, cursor: str, limit: int) -> str:
    query = urlencode({"page[cursor]": cursor, "page[limit]": str(limit)})
    return f"{request.url.path}?{query}"


def absolute_path(request: Request) -> str:
    path = request.query_params.get("Path")
    if not path:
        raise BadRequest("Path is required")
    if not path.startswith("/"):
        raise BadRequest("Path must be absolute (start with /)")
    return path
