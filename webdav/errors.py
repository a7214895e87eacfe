"""Answers other than success, and the one table from the ports' errors to statuses."""

from __future__ import annotations

from starlette.responses import Response

from roost.permissions import Hidden, PermissionDenied

from .ports import (
    Conflict,
    InvalidInput,
    LockConflict,
    NotFound,
    OutOfSpace,
    PreconditionFailed,
    Refused,
    TooLarge,
    TreeError,
    Unauthenticated,
    Unavailable,
)

XML = "application/xml; charset=utf-8"
CHALLENGE = {"WWW-Authenticate": 'Basic realm="Roost"'}


class DavError(Exception):
    """An answer other than success: status, optional RFC 4918 precondition, headers."""

    def __init__(
        self,
        status: int,
        reason: str = "",
        *,
        condition: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.condition = condition
        self.headers = headers or {}


class BadRequest(DavError):
    """A request the server cannot make sense of (400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


class Forbidden(DavError):
    """A request understood and refused whoever asks (403)."""

    def __init__(self, reason: str) -> None:
        super().__init__(403, reason)


# The ports' errors, most specific first (a subclass before its base).
STATUSES: tuple[tuple[type[TreeError], int], ...] = (
    (Unauthenticated, 401),
    (Refused, 403),
    (NotFound, 404),
    (LockConflict, 423),
    (Conflict, 409),
    (InvalidInput, 400),
    (PreconditionFailed, 412),
    (TooLarge, 413),
    (OutOfSpace, 507),
    (Unavailable, 503),
)


def status_of(error: TreeError) -> int:
    for kind, status in STATUSES:
        if isinstance(error, kind):
            return status
    return 500


def error_response(error: Exception) -> Response:
    """The answer for anything a method raised on purpose."""
    if isinstance(error, DavError):
        if error.condition:
            return Response(
                error_body(error.condition),
                status_code=error.status,
                media_type=XML,
                headers=error.headers,
            )
        return plain(error.status, error.reason, error.headers)
    if isinstance(error, Hidden):
        return plain(404, "not found")
    if isinstance(error, PermissionDenied):
        return plain(403, str(error.reason))
    if isinstance(error, Unauthenticated):
        return plain(401, error.reason, CHALLENGE)
    if isinstance(error, TreeError):
        return plain(status_of(error), error.reason)
    raise TypeError(f"not an answer: {error!r}")


def error_body(condition: str) -> str:
    """An RFC 4918 §16 error body naming a precondition (`propfind-finite-depth`…)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<D:error xmlns:D="DAV:"><D:{condition}/></D:error>'
    )


def plain(status: int, reason: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        reason + "\n", status_code=status, media_type="text/plain; charset=utf-8", headers=headers
    )
