"""One exception handler turns every error into JSON `{"error", "reason"}` with its status.

The status and code of a domain error come from `roost.web.error_table`, nowhere else.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.errors import RoostError, TooManyRequests, Unauthorized
from roost.permissions import Hidden, InvalidRule, InvalidToken, PermissionDenied
from roost.web.error_table import answer_for

log = logging.getLogger("roost.web")

_HTTP_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_response(
    status: int, error: str, reason: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason}, status_code=status, headers=headers)


async def roost_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RoostError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="roost"'
    answer = answer_for(exc)
    if answer.status >= 500:
        log.warning("store error", extra={"fields": {"reason": exc.reason}})
    return error_response(answer.status, answer.code, exc.reason, headers)


async def permission_denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PermissionDenied)
    return error_response(403, "forbidden", str(exc.reason))


async def hidden(request: Request, exc: Exception) -> Response:
    # Exactly what a missing document answers: a hidden one must be indistinguishable.
    return error_response(404, "not_found", "missing")


async def invalid_token(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidToken)
    return error_response(401, "unauthorized", f"invalid token: {exc.reason}")


async def invalid_rule(request: Request, exc: Exception) -> Response:
    return error_response(400, "bad_request", str(exc))


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    name = _HTTP_NAMES.get(exc.status_code, "error")
    return error_response(exc.status_code, name, str(exc.detail), dict(exc.headers or {}))


async def unexpected(request: Request, exc: Exception) -> Response:
    # A bug, never a client's fault: logged with the traceback, answered without details.
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error happened; it was logged")


EXCEPTION_HANDLERS = {
    RoostError: roost_error,
    PermissionDenied: permission_denied,
    Hidden: hidden,
    InvalidToken: invalid_token,
    InvalidRule: invalid_rule,
    HTTPException: http_exception,
    Exception: unexpected,
}
