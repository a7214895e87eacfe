"""The one table from domain errors to their HTTP answer: (status, error code).

Domain errors (`roost.errors`, `roost.vfs.errors`) carry no HTTP status; this table is the
only place that gives them one. `answer_for` is what the JSON exception handler asks, and
what a WebDAV adapter of the stack asks too (it renders the same status in its own body).
A class absent from the table answers like its nearest ancestor present in it. Classes of
other parts that still declare their own `status` or `error` (legacy, before they moved
into the table) keep them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from roost import errors
from roost.vfs import errors as vfs


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: str


ERROR_TABLE: Final[Mapping[type[Exception], ErrorAnswer]] = {
    errors.RoostError: ErrorAnswer(500, "internal_error"),
    errors.BadRequest: ErrorAnswer(400, "bad_request"),
    errors.InvalidDocument: ErrorAnswer(400, "invalid_document"),
    errors.Unauthorized: ErrorAnswer(401, "unauthorized"),
    errors.Forbidden: ErrorAnswer(403, "forbidden"),
    errors.NotFound: ErrorAnswer(404, "not_found"),
    errors.MethodNotAllowed: ErrorAnswer(405, "method_not_allowed"),
    errors.Conflict: ErrorAnswer(409, "conflict"),
    errors.PreconditionFailed: ErrorAnswer(412, "precondition_failed"),
    errors.PayloadTooLarge: ErrorAnswer(413, "payload_too_large"),
    errors.UnsupportedMediaType: ErrorAnswer(415, "unsupported_media_type"),
    errors.TooManyRequests: ErrorAnswer(429, "too_many_requests"),
    errors.InsufficientStorage: ErrorAnswer(507, "insufficient_storage"),
    errors.StoreUnavailable: ErrorAnswer(503, "store_unavailable"),
    errors.ServiceUnavailable: ErrorAnswer(503, "service_unavailable"),
    # Files. A missing parent is a conflict (RFC 4918 §9.7.1), a missing file a 404.
    vfs.FileNotFound: ErrorAnswer(404, "not_found"),
    vfs.ParentMissing: ErrorAnswer(409, "parent_not_found"),
    vfs.NameTaken: ErrorAnswer(409, "name_conflict"),
    vfs.InvalidName: ErrorAnswer(400, "invalid_name"),
    vfs.NotADirectory: ErrorAnswer(409, "not_a_directory"),
    vfs.IsADirectory: ErrorAnswer(409, "is_a_directory"),
    vfs.InvalidMove: ErrorAnswer(409, "invalid_move"),
    vfs.FixedDirectory: ErrorAnswer(400, "bad_request"),
    vfs.NotInTrash: ErrorAnswer(400, "bad_request"),
    vfs.StaleRevision: ErrorAnswer(412, "precondition_failed"),
    vfs.WriteConflict: ErrorAnswer(409, "conflict"),
    vfs.ChecksumMismatch: ErrorAnswer(412, "checksum_mismatch"),
    vfs.QuotaExceeded: ErrorAnswer(507, "quota_exceeded"),
    vfs.IncompleteUpload: ErrorAnswer(400, "incomplete_upload"),
    errors.RangeNotSatisfiable: ErrorAnswer(416, "range_not_satisfiable"),
}


def answer_for(exc: Exception) -> ErrorAnswer:
    """The (status, code) of an error: the table's entry for the nearest class in it."""
    status: object = exc.__dict__.get("status")
    code: object = exc.__dict__.get("error")
    for cls in type(exc).__mro__:
        entry = ERROR_TABLE.get(cls)
        if entry is not None:
            return ErrorAnswer(
                status if isinstance(status, int) else entry.status,
                code if isinstance(code, str) else entry.code,
            )
        if status is None:
            status = cls.__dict__.get("status")
        if code is None:
            code = cls.__dict__.get("error")
    return ErrorAnswer(
        status if isinstance(status, int) else 500,
        code if isinstance(code, str) else "internal_error",
    )
