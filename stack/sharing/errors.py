"""What can go wrong with a share link, as domain errors (the edge gives them a status)."""

from __future__ import annotations

from roost.errors import BadRequest, NotFound, TooManyRequests


class LinkUnknown(NotFound):
    """No share link has this code (or the code is malformed): the one answer, 404."""


class LinkGone(NotFound):
    """The link existed but was revoked, has expired, or what it shared is gone (410)."""


class InvalidShareRequest(BadRequest):
    """A request to create a share link that cannot be honoured as written."""


class TooManyPasswordAttempts(TooManyRequests):
    """Too many wrong passwords for one link in the window; `retry_after` seconds to wait."""
