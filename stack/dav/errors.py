"""The stack's domain errors as the WebDAV ports' errors (what WebDAV then maps to statuses)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from roost.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RoostError,
    StoreUnavailable,
    Unauthorized,
)
from roost.vfs import InvalidName, NameConflict
from roost.webdav import ports

# Most specific first: a VFS error before the stack error it derives from.
_PORT_ERRORS: tuple[tuple[type[RoostError], type[ports.TreeError]], ...] = (
    (NameConflict, ports.NameTaken),
    (InvalidName, ports.InvalidInput),
    (Unauthorized, ports.Unauthenticated),
    (Forbidden, ports.Refused),
    (NotFound, ports.NotFound),
    (Conflict, ports.Conflict),
    (BadRequest, ports.InvalidInput),
    (PreconditionFailed, ports.PreconditionFailed),
    (PayloadTooLarge, ports.TooLarge),
    (InsufficientStorage, ports.OutOfSpace),
    (StoreUnavailable, ports.Unavailable),
)


def port_error(error: RoostError) -> ports.TreeError | None:
    for stack_error, port_error_class in _PORT_ERRORS:
        if isinstance(error, stack_error):
            return port_error_class(error.reason)
    return None


@contextmanager
def as_port_errors() -> Iterator[None]:
    """Re-raise the stack's errors raised inside as the ports' errors."""
    try:
        yield
    except RoostError as error:
        translated = port_error(error)
        if translated is None:
            raise
        raise translated from error
