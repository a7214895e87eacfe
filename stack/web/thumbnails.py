"""`GET /files/{file_id}/thumbnails/{size}`: the thumbnail of a picture or a video.

cozy-stack serves `/files/:id/thumbnails/:secret/:format` behind a short-lived secret;
Roost asks the same permission decision as reading the file instead (a token, an app
password or the owner's session), so a thumbnail shows exactly what its file shows: a
file one may not read answers like a missing one. See docs/api/thumbnails.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from roost.errors import BadRequest
from roost.permissions import FILES_DOCTYPE, FileTarget, Outcome, decide
from roost.thumbnails import SIZES, ThumbnailSize
from roost.vfs import FileNotFound
from roost.web.context import instance_of, principal_of, services_of
from roost.web.preconditions import none_match


def _missing() -> FileNotFound:
    return FileNotFound("missing")


def _size(request: Request) -> ThumbnailSize:
    name = request.path_params["size"]
    size = SIZES.get(name)
    if size is None:
        raise BadRequest(f"a thumbnail size is one of {', '.join(SIZES)}, not {name!r}")
    return size


async def get_thumbnail(request: Request) -> Response:
    services = services_of(request)
    instance = instance_of(request)
    principal = await principal_of(request)
    size = _size(request)
    now = datetime.now(UTC)
    file_id = request.path_params["file_id"]
    doc = await services.vfs.get_or_none(instance, file_id)
    if doc is None:
        # Decided as for a file no rule names: no rule at all (or an expired set) is a
        # 403 whether or not the id exists; anything else is the one "missing".
        nowhere = FileTarget(id=file_id, dir_id=None, type="file", name="")
        decision = decide(
            principal.permissions, "GET", FILES_DOCTYPE, nowhere, now=now, surface="stack"
        )
        if decision.outcome is Outcome.DENY:
            decision.enforce()
        raise _missing()
    target = await services.vfs.targets(instance).for_doc(doc)
    decide(principal.permissions, "GET", FILES_DOCTYPE, target, now=now, surface="stack").enforce()
    thumbnail = await services.thumbnails.thumbnail(instance, doc, size)
    headers = {
        "ETag": thumbnail.etag,
        # The owner's data: no shared cache keeps it; a browser revalidates (a 304 is cheap).
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if none_match(request.headers.get("if-none-match"), thumbnail.etag):
        return Response(status_code=304, headers=headers)
    body = thumbnail.body
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=thumbnail.media_type)
    return Response(body, headers=headers, media_type=thumbnail.media_type)


ROUTES: list[BaseRoute] = [
    Route("/files/{file_id}/thumbnails/{size}", get_thumbnail, methods=["GET", "HEAD"]),
]
