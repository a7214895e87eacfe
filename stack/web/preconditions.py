"""HTTP preconditions shared by every route that serves bytes with an ETag."""

from __future__ import annotations


def none_match(header: str | None, etag: str) -> bool:
    """Whether `If-None-Match: header` matches `etag` (then a GET answers 304)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2).
    bare = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == bare for part in header.split(","))
