"""Access-log recording for HTTP requests, and `GET /settings/access-log` for the owner."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost.access_log import ACCESS_DOCTYPE, AccessEntry, AccessLog
from roost.errors import BadRequest
from roost.permissions import decide
from roost.principals import Principal
from roost.web.context import instance_of, principal_of, services_of

MAX_LIMIT = 1000


def doctype_of_path(path: str) -> str | None:
    """Which doctype a URL touches, for the log line."""
    parts = path.strip("/").split("/")
    if parts[0] == "data" and len(parts) > 1 and not parts[1].startswith("_"):
        return parts[1]
    if parts[0] in ("files", "dav"):
        return "io.cozy.files"
    if parts[0] == "s" and parts[-1] != "password":  # a share link's public pages
        return "io.cozy.files"
    return None


class AccessLogMiddleware:
    """After each request made with a token or app password, append one entry."""

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        sent = 0
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            state = scope.get("state") or {}
            principal: Principal | None = state.get("principal")
            instance = state.get("instance")
            if principal is not None and not principal.is_owner and instance is not None:
                path: str = scope["path"]
                self.access_log.record(
                    instance,
                    AccessEntry(
                        principal=principal.label,
                        app=principal.app_slug,
                        verb=scope["method"],
                        doctype=doctype_of_path(path),
                        path=path[:300],
                        status=status,
                        bytes_out=sent,
                        bytes_in=received,
                    ),
                )


async def read_access_log(request: Request) -> Response:
    principal = await principal_of(request)
    now = datetime.now(UTC)
    decide(principal.permissions, "GET", ACCESS_DOCTYPE, None, now=now, surface="stack").enforce()
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be from 1 to {MAX_LIMIT}")
    entries = await services_of(request).access_log.query(
        instance_of(request),
        app=request.query_params.get("app") or None,
        limit=limit,
        before=request.query_params.get("before") or None,
    )
    return JSONResponse({"entries": entries, "limit": limit})


ROUTES = [Route("/settings/access-log", read_access_log, methods=["GET"])]
