"""`/files` metadata and the tree: a file or directory by id or path, PATCH (rename, move,
tags, dates, favourite, or to the trash) and DELETE (to the trash)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roost.errors import BadRequest
from roost.permissions import ROOT_DIR_ID
from roost.vfs import NotADirectory
from roost.vfs.metadata import check_patchable, file_patch
from roost.web.context import read_json
from roost.web.file_access import FileAccess, missing
from roost.web.files_answers import file_answer
from roost.web.files_params import absolute_path, if_match


async def get_file(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    return await file_answer(access, request, doc)


async def get_metadata(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load_path(absolute_path(request))
    return await file_answer(access, request, doc)


def _patch_attributes(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise BadRequest('the body must be {"data": {"attributes": {…}}}')
    check_patchable(attributes)
    return attributes


async def patch(request: Request) -> Response:
    """PATCH /files/{id}: rename, move (dir_id), tags, dates, favourite, or move to trash."""
    access = await FileAccess.of(request)
    attributes = _patch_attributes(await read_json(request))
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    if_rev = if_match(request, doc)
    change = file_patch(doc, attributes)
    if change.to_trash:
        access.require("DELETE", target)
        trashed = await access.vfs.trash(access.instance, doc, app_slug=access.app_slug)
        return await file_answer(access, request, trashed)

    new_target = target
    parent = None
    if change.moving:
        parent = await access.vfs.get_or_none(
            access.instance, change.dir_id or doc.dir_id or ROOT_DIR_ID
        )
        if parent is None:
            raise missing()
        parent_target = await access.target(parent)
        base = await access.targets.for_new(
            parent, change.name or doc.name, type=doc.type, mime=doc.mime, class_=doc.class_
        )
        new_target = dataclasses.replace(
            base, id=doc.id, tags=target.tags, referenced_by=target.referenced_by
        )
        access.require("PUT", new_target, visible=parent_target)
        if not parent.is_dir:
            raise NotADirectory(f"{parent.name!r} is not a directory")
    if "tags" in change.fields:
        new_target = dataclasses.replace(new_target, tags=tuple(change.fields["tags"]))
    access.require("PUT", new_target)

    updated = doc
    if change.moving:
        updated = await access.vfs.move(
            access.instance,
            doc,
            parent=parent,
            name=change.name,
            if_rev=if_rev,
            app_slug=access.app_slug,
        )
        if_rev = updated.rev
    if change.fields:
        updated = await access.vfs.update_fields(
            access.instance, updated, change.fields, if_rev=if_rev, app_slug=access.app_slug
        )
    return await file_answer(access, request, updated)


async def delete(request: Request) -> Response:
    """DELETE /files/{id}: to the trash (DELETE /files/trash/{id} destroys)."""
    access = await FileAccess.of(request)
    doc, _target = await access.load(request.path_params["file_id"], "DELETE")
    if_match(request, doc)
    trashed = await access.vfs.trash(access.instance, doc, app_slug=access.app_slug)
    return await file_answer(access, request, trashed)
