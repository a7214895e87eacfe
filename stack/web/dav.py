"""`/dav/files/`: the WebDAV server of `roost.webdav`, mounted on the stack.

The server is built with its ports by the composition root (`roost.app.create_app`, through
`roost.dav.dav_server`) and kept on `app.state`; this module only routes to it. Also answers
`OPTIONS /`: the Windows WebDAV redirector probes the server root before it maps a share
below it, and gives up if that fails.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.instances import Instance
from roost.web.context import instance_of
from roost.webdav.server import DAV_METHODS, DavServer, options_response


async def dav(request: Request) -> Response:
    server: DavServer[Instance] = request.app.state.dav_server
    return await server.handle(request, instance_of(request))


async def root_options(request: Request) -> Response:
    return options_response()


ROUTES = [
    Route("/dav/files", dav, methods=DAV_METHODS),
    Route("/dav/files/{path:path}", dav, methods=DAV_METHODS),
    Route("/", root_options, methods=["OPTIONS"]),
]
