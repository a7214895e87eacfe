"""Domain errors of the stack, turned into JSON `{"error", "reason"}` answers at the edge.

Services raise these; `roost.web.errors` maps each class to its HTTP status once.
"""

from __future__ import annotations


class RoostError(Exception):
    """Base class: `status` and `error` name the HTTP answer, the message is the reason."""

    status = 500
    error = "internal_error"

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason or self.error.replace("_", " ")


class BadRequest(RoostError):
    status = 400
    error = "bad_request"


class InvalidDocument(BadRequest):
    error = "invalid_document"


class Unauthorized(RoostError):
    status = 401
    error = "unauthorized"


class Forbidden(RoostError):
    status = 403
    error = "forbidden"


class NotFound(RoostError):
    status = 404
    error = "not_found"


class MethodNotAllowed(RoostError):
    status = 405
    error = "method_not_allowed"


class Conflict(RoostError):
    status = 409
    error = "conflict"


class PreconditionFailed(RoostError):
    status = 412
    error = "precondition_failed"


class PayloadTooLarge(RoostError):
    status = 413
    error = "payload_too_large"


class UnsupportedMediaType(RoostError):
    status = 415
    error = "unsupported_media_type"


class TooManyRequests(RoostError):
    status = 429
    error = "too_many_requests"

    def __init__(self, reason: str = "", retry_after: int = 60) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class InsufficientStorage(RoostError):
    status = 507
    error = "insufficient_storage"


class StoreUnavailable(RoostError):
    """CouchDB did not answer (down, restarting, or timed out)."""

    status = 503
    error = "store_unavailable"
