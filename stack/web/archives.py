"""`GET /files/archive`: a folder or a selection of files as a zip, streamed.

Query: `Id` (repeated, or comma-separated; at most 1000) and optional `Name` for the file
the browser saves. Every id is checked with the permission decision before the first byte
(404 for any one that is absent or hidden, 403 with no GET on files at all); inside folders
what may not be read is left out. The zip is built while it is sent (stream-zip).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from roost.archives import FileArchive, archive_name
from roost.archives.zips import MAX_IDS
from roost.errors import BadRequest
from roost.web.context import instance_of, principal_of, services_of


def _ids(request: Request) -> list[str]:
    ids: list[str] = []
    for raw in request.query_params.getlist("Id"):
        ids.extend(part.strip() for part in raw.split(","))
    ids = [i for i in ids if i]
    if not ids:
        raise BadRequest("give the files and folders to put in the zip as Id=…")
    if len(ids) > MAX_IDS:
        raise BadRequest(f"at most {MAX_IDS} ids in one archive")
    return ids


def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def download_archive(request: Request) -> Response:
    principal = await principal_of(request)  # credentials first: 401 before any 400
    ids = _ids(request)
    name = request.query_params.get("Name", "").strip()
    if name and ("/" in name or "\\" in name or len(name) > 255 or not name.isprintable()):
        raise BadRequest("Name must be a plain file name")
    archive = FileArchive(
        services_of(request).vfs, instance_of(request), principal.permissions, datetime.now(UTC)
    )
    entries = await archive.prepare(ids)
    filename = name or archive_name(entries)
    if not filename.lower().endswith(".zip"):
        filename += ".zip"
    return StreamingResponse(
        archive.stream(entries),
        media_type="application/zip",
        headers={
            "Content-Disposition": _disposition(filename),
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES = [Route("/files/archive", download_archive, methods=["GET"])]
