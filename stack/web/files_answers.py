"""The answers of `/files`: a file or a directory (with the page of entries the caller may
read) as a JSON:API document."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost.permissions import FILES_DOCTYPE
from roost.vfs import FileDoc
from roost.web.file_access import FileAccess
from roost.web.files_jsonapi import document, file_object, version_object
from roost.web.files_params import next_link, page

JSONAPI: Final = "application/vnd.api+json"


def jsonapi(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(content, status_code=status, headers=headers, media_type=JSONAPI)


async def file_answer(
    access: FileAccess, request: Request, doc: FileDoc, status: int = 200
) -> Response:
    if doc.is_dir:
        return await directory_answer(access, request, doc, status)
    versions = await access.vfs.list_versions(access.instance, doc.id)
    raw_versions = [version.doc for version in versions]
    body = document(
        file_object(doc.doc, versions=raw_versions),
        included=[version_object(version) for version in raw_versions],
    )
    headers = {"Location": f"{request.base_url}files/{quote(doc.id, safe='')}"}
    return jsonapi(body, status, headers)


async def directory_answer(
    access: FileAccess, request: Request, directory: FileDoc, status: int = 200
) -> Response:
    limit, cursor = page(request)
    entries = []
    for entry in await access.vfs.list_dir(access.instance, directory):
        if access.can_read(await access.targets.for_child(directory, entry)):
            entries.append(entry)
    remaining = [entry for entry in entries if cursor is None or entry.name > cursor]
    # Folders carry the ETag that changes with their subtree (sync clients compare it).
    directory, *shown = await access.vfs.with_subtree_stamps(
        access.instance, [directory, *remaining[:limit]]
    )
    data = file_object(directory.doc, etag=directory.etag)
    data.setdefault("relationships", {})["contents"] = {
        "data": [{"type": FILES_DOCTYPE, "id": entry.id} for entry in shown]
    }
    links = {}
    if len(remaining) > limit:
        links["next"] = next_link(request, shown[-1].name, limit)
    body = document(
        data,
        included=[
            file_object(entry.doc, etag=entry.etag if entry.is_dir else None) for entry in shown
        ],
        links=links,
        meta={"count": len(entries)},
    )
    headers = {"Location": f"{request.base_url}files/{quote(directory.id, safe='')}"}
    return jsonapi(body, status, headers)
