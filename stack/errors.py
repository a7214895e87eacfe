"""The kinds of failure of the stack's domain, as plain exception classes.

Services raise these (or a refinement named for what went wrong, like
`roost.vfs.FileNotFound`); they carry a reason — a sentence safe to show — and nothing about
HTTP. The edge decides the answer of each class once: `roost.web.error_table` maps classes
to (status, error code) for JSON, and the WebDAV adapter reuses the same table.
"""

from __future__ import annotations

import re
from typing import Any


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class RoostError(Exception):
    """Base class: the message is the reason."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason or _snake(type(self).__name__).replace("_", " ")

    def __getattr__(self, name: str) -> Any:
        # kept for callers outside the files area that still read `exc.error`: the class's
        # name in snake case; the answer itself comes from roost.web.error_table.
        if name == "error":
            return _snake(type(self).__name__)
        raise AttributeError(name)


class BadRequest(RoostError):
    """The request is malformed or asks for something impossible."""


class InvalidDocument(BadRequest):
    """A document does not follow its doctype's schema."""


class Unauthorized(RoostError):
    """No credentials, or credentials that prove nothing."""


class Forbidden(RoostError):
    """Known caller, refused action."""


class NotFound(RoostError):
    """Nothing there (or nothing the caller may know of)."""


class MethodNotAllowed(RoostError):
    """This resource does not take this method."""


class Conflict(RoostError):
    """The request contradicts the current state (a name taken, a stale revision…)."""


class PreconditionFailed(RoostError):
    """A condition the caller set (If-Match, a checksum) does not hold."""


class PayloadTooLarge(RoostError):
    """The body is larger than this endpoint accepts."""


class UnsupportedMediaType(RoostError):
    """The body is in a format this endpoint does not read."""


class TooManyRequests(RoostError):
    """Slow down; `retry_after` seconds is how long."""

    def __init__(self, reason: str = "", retry_after: int = 60) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class InsufficientStorage(RoostError):
    """No room left to store this."""


class StoreUnavailable(RoostError):
    """CouchDB did not answer (down, restarting, or timed out)."""


class ServiceUnavailable(RoostError):
    """The server cannot do this now (short of memory, say); the same request may work later."""


class RangeNotSatisfiable(RoostError):
    """No byte range a client asked for overlaps the content."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no requested range overlaps the {size}-byte content")
        self.size = size
