"""`POST /files/{file-id}/copy`: a copy of a file, as cozy-stack's route.

Query: `DirID` (the destination folder; default: the file's own) and `Name` (default: the
file's name, made free with ` (2)`, ` (3)`… as the trash does). Files only, as in
cozy-stack: a folder is 400. Needs `GET` on the file and `POST` on the copy as it will be
in the destination; the bytes are shared on disk (a hard link) but count in the quota, so
a full instance answers 507.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest
from roost.permissions import FILES_DOCTYPE, Hidden, PermissionDenied, decide
from roost.vfs import NameConflict, NotADirectory, normalize_name
from roost.vfs.names import conflict_name
from roost.web.context import instance_of, principal_of, services_of
from roost.web.files_jsonapi import document, file_object

_MAX_ATTEMPTS: Final = 100


async def copy_file(request: Request) -> Response:
    services = services_of(request)
    instance = instance_of(request)
    principal = await principal_of(request)
    vfs = services.vfs
    targets = vfs.targets(instance)
    now = datetime.now(UTC)

    def allowed(verb: str, target: object, visible: object = None) -> None:
        decide(
            principal.permissions,
            verb,
            FILES_DOCTYPE,
            target,  # type: ignore[arg-type]
            now=now,
            surface="stack",
            visible=visible,  # type: ignore[arg-type]
        ).enforce()

    if not principal.permissions.allows_some("POST", FILES_DOCTYPE):
        raise PermissionDenied("POST", FILES_DOCTYPE, f"no POST permission on {FILES_DOCTYPE}")
    source = await vfs.get_or_none(instance, request.path_params["file_id"])
    if source is None or source.in_trash:
        raise Hidden("GET", FILES_DOCTYPE)
    allowed("GET", await targets.for_doc(source))
    if source.is_dir:
        raise BadRequest("only files can be copied (cozy-stack copies files only)")
    dir_id = request.query_params.get("DirID") or source.dir_id or ""
    parent = await vfs.get_or_none(instance, dir_id)
    if parent is None or parent.in_trash:
        raise Hidden("GET", FILES_DOCTYPE)
    parent_target = await targets.for_doc(parent)
    if not parent.is_dir:
        allowed("GET", parent_target)
        raise NotADirectory(f"{parent.name!r} is not a directory")
    raw_name = request.query_params.get("Name")
    if raw_name is not None:
        name = normalize_name(raw_name)
        if await vfs.child(instance, parent, name) is not None:
            allowed("GET", parent_target)
            raise NameConflict(f"{name!r} already exists here")
    else:
        name = source.name
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            if await vfs.child(instance, parent, name) is None:
                break
            name = conflict_name(source.name, attempt, is_dir=False)
        else:
            raise NameConflict("no free name for the copy: give one with Name")
    new_target = await targets.for_new(
        parent, name, type="file", mime=source.mime, class_=source.class_
    )
    allowed("POST", dataclasses.replace(new_target, tags=source.tags), parent_target)
    copied = await vfs.copy(instance, source, parent, name, app_slug=principal.app_slug)
    body = document(file_object(copied.doc, versions=[]))
    return JSONResponse(
        body,
        status_code=201,
        media_type="application/vnd.api+json",
        headers={"Location": f"{request.base_url}files/{quote(copied.id, safe='')}"},
    )


ROUTES = [Route("/files/{file_id}/copy", copy_file, methods=["POST"])]
