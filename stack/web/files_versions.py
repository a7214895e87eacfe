"""`/files` versions: the old contents of a file, downloading one, reverting to one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roost.vfs import IsADirectory
from roost.web.file_access import FileAccess
from roost.web.files_answers import file_answer, jsonapi
from roost.web.files_content import serve
from roost.web.files_jsonapi import document, version_object
from roost.web.files_params import if_match


async def list_versions(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory: it has no versions")
    versions = await access.vfs.list_versions(access.instance, doc.id)
    return jsonapi(
        document(
            [version_object(version.doc) for version in versions],
            meta={"count": len(versions)},
        )
    )


async def download_version(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory: it has no versions")
    version = await access.vfs.get_version(
        access.instance, doc.id, request.path_params["version_id"]
    )
    content = await access.vfs.open_version(access.instance, version)
    return await serve(request, doc, content, doc.mime or content.mime)


async def revert(request: Request) -> Response:
    """POST /files/revert/{id}/{version-id}: an old content becomes the current one (and
    the content it replaces becomes a version in turn)."""
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"], "PUT")
    if_rev = if_match(request, doc)
    updated = await access.vfs.revert(
        access.instance,
        doc,
        request.path_params["version_id"],
        if_rev=if_rev,
        app_slug=access.app_slug,
    )
    return await file_answer(access, request, updated)
