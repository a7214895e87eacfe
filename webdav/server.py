"""The WebDAV server (RFC 4918 class 1 and 2) over a file tree, mounted at `/dav/files/`.

`DavServer.handle` authenticates the caller, parses the path and hands the request to the
module holding its method: `reading` (OPTIONS, GET, HEAD, PROPFIND), `writing` (PUT, DELETE,
MKCOL, COPY, MOVE), `properties` (PROPPATCH), `locking` (LOCK, UNLOCK). Who may do what is
in `access`, the `If` header and lock checks in `conditions`, answers other than success in
`errors`. The server reaches the stack only through the ports of `roost.webdav.ports`.

The trash (`/.cozy_trash`) is not part of the tree seen through WebDAV; DELETE moves
there, so a sync client's deletion can be undone from the web UI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from roost.permissions import Hidden, PermissionDenied

from . import locking, properties, reading, writing
from .access import authenticate
from .call import Call
from .errors import DavError, error_response, plain
from .paths import parse_raw_path
from .ports import Authenticator, FileTree, LockStore, TreeError
from .reading import ALLOW, DAV_METHODS, options_response

I = TypeVar("I")  # noqa: E741

MAX_XML_BYTES = 1024 * 1024

Method = Callable[[Call[I]], Awaitable[Response]]


class DavServer(Generic[I]):
    def __init__(
        self,
        tree: FileTree[I],
        locks: LockStore[I],
        authenticator: Authenticator[I],
        *,
        max_xml_bytes: int = MAX_XML_BYTES,
    ) -> None:
        self.tree = tree
        self.locks = locks
        self.authenticator = authenticator
        self.max_xml_bytes = max_xml_bytes
        self._methods: dict[str, Method[I]] = {
            "GET": reading.get,
            "HEAD": reading.get,
            "PROPFIND": reading.propfind,
            "PUT": writing.put,
            "DELETE": writing.delete,
            "MKCOL": writing.mkcol,
            "COPY": writing.copy_or_move,
            "MOVE": writing.copy_or_move,
            "PROPPATCH": properties.proppatch,
            "LOCK": locking.lock,
            "UNLOCK": locking.unlock,
        }

    async def handle(self, request: Request, instance: I) -> Response:
        method = request.method.upper()
        if method == "OPTIONS":
            return options_response()
        handler = self._methods.get(method)
        if handler is None:
            return plain(405, f"{method} is not supported here", {"Allow": ALLOW})
        try:
            caller = await authenticate(request, instance, self.authenticator)
            raw_path = request.scope.get("raw_path")
            path_text = raw_path.decode("latin-1") if raw_path else request.url.path
            call = Call(
                request=request,
                instance=instance,
                caller=caller,
                path=parse_raw_path(path_text.split("?", 1)[0], self.tree.normalize_name),
                tree=self.tree,
                lock_store=self.locks,
                targets=self.tree.targets(instance),
                now=datetime.now(UTC),
                max_xml_bytes=self.max_xml_bytes,
            )
            return await handler(call)
        except (DavError, TreeError, Hidden, PermissionDenied) as error:
            return error_response(error)
        except ClientDisconnect:
            return plain(400, "the client went away")


__all__ = ["DAV_METHODS", "MAX_XML_BYTES", "DavServer", "options_response"]
