"""`/dav/files/`: the WebDAV server of `roost.webdav`, mounted on the stack.

Also answers `OPTIONS /`: the Windows WebDAV redirector probes the server root before it
maps a share below it, and gives up if that fails.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.web.context import instance_of, services_of
from roost.webdav.server import DAV_METHODS, DavServer, options_response


def _server(request: Request) -> DavServer:
    server: DavServer | None = getattr(request.app.state, "dav_server", None)
    if server is None:
        services = services_of(request)
        server = DavServer(services.vfs, services.authenticator, services.couch)
        request.app.state.dav_server = server
    return server


async def dav(request: Request) -> Response:
    return await _server(request).handle(request, instance_of(request))


async def root_options(request: Request) -> Response:
    return options_response()


ROUTES = [
    Route("/dav/files", dav, methods=DAV_METHODS),
    Route("/dav/files/{path:path}", dav, methods=DAV_METHODS),
    Route("/", root_options, methods=["OPTIONS"]),
]
