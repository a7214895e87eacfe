"""`/files/trash`: what is in the trash, restoring, deleting for good, emptying."""

from __future__ import annotations

import dataclasses
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from roost.permissions import TRASH_DIR_ID
from roost.web.file_access import FileAccess
from roost.web.files_answers import file_answer, jsonapi
from roost.web.files_jsonapi import document, file_object
from roost.web.files_params import next_link, page


async def list_trash(request: Request) -> Response:
    access = await FileAccess.of(request)
    trash_dir = await access.vfs.get(access.instance, TRASH_DIR_ID)
    # Only a principal with no GET rule at all is refused: the listing shows what it may read.
    access.refuse_if_denied("GET", await access.target(trash_dir))
    limit, cursor = page(request)
    entries = []
    for entry in await access.vfs.list_trash(access.instance):
        if access.can_read(await access.targets.for_child(trash_dir, entry)):
            entries.append(entry)
    remaining = [entry for entry in entries if cursor is None or entry.name > cursor]
    shown = remaining[:limit]
    links = {}
    if len(remaining) > limit:
        links["next"] = next_link(request, shown[-1].name, limit)
    data = [
        file_object(entry.doc, self_link=f"/files/trash/{quote(entry.id, safe='')}")
        for entry in shown
    ]
    return jsonapi(document(data, links=links, meta={"count": len(entries)}))


async def restore(request: Request) -> Response:
    """POST /files/trash/{id}: back to where it was, renamed if the name is taken."""
    access = await FileAccess.of(request)
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    access.vfs.check_restorable(doc)
    destination = await access.vfs.restore_destination(access.instance, doc, targets=access.targets)
    base = await access.targets.for_new(
        destination, doc.name, type=doc.type, mime=doc.mime, class_=doc.class_
    )
    access.require(
        "PUT",
        dataclasses.replace(base, id=doc.id, tags=target.tags, referenced_by=target.referenced_by),
        visible=await access.target(destination),
    )
    restored = await access.vfs.restore(access.instance, doc, app_slug=access.app_slug)
    return await file_answer(access, request, restored)


async def destroy(request: Request) -> Response:
    """DELETE /files/trash/{id}: delete for good (only what is in the trash)."""
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"], "DELETE")
    access.vfs.check_destroyable(doc)
    await access.vfs.destroy(access.instance, doc)
    return Response(status_code=204)


async def empty_trash(request: Request) -> Response:
    access = await FileAccess.of(request)
    trash_dir = await access.vfs.get(access.instance, TRASH_DIR_ID)
    access.require_openly("DELETE", await access.target(trash_dir))
    await access.vfs.empty_trash(access.instance)
    return Response(status_code=204)
