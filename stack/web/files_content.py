"""`/files` content: uploads and new directories, new content for a file, and downloads
(Range and conditional requests)."""

from __future__ import annotations

import dataclasses
from email.utils import formatdate
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from roost.errors import BadRequest
from roost.permissions import ROOT_DIR_ID
from roost.vfs import (
    FileContent,
    FileDoc,
    IncompleteUpload,
    IsADirectory,
    NameTaken,
    NotADirectory,
    StagedContent,
    normalize_name,
)
from roost.vfs.errors import BlobMissing
from roost.vfs.filedoc import parse_time
from roost.vfs.mime import mime_class
from roost.web.byte_ranges import content_response, if_range_allows
from roost.web.file_access import FileAccess, missing
from roost.web.files_answers import file_answer
from roost.web.files_params import (
    absolute_path,
    bool_param,
    content_md5,
    content_type,
    date_header,
    declared_size,
    if_match,
    tags_param,
    time_param,
)
from roost.web.preconditions import none_match


async def _stage(access: FileAccess, request: Request, size: int | None) -> StagedContent:
    try:
        return await access.vfs.stage(
            access.instance, request.stream(), size=size, md5sum=content_md5(request)
        )
    except ClientDisconnect:
        raise IncompleteUpload("the client went away before the end of the body") from None


# -- creation -----------------------------------------------------------------------------


async def create(request: Request) -> Response:
    """POST /files/{dir-id}?Type=file|directory&Name=…: upload a file or make a directory."""
    access = await FileAccess.of(request)
    kind = request.query_params.get("Type")
    if kind not in ("file", "directory"):
        raise BadRequest("Type must be file or directory")
    raw_name = request.query_params.get("Name")
    if raw_name is None:
        raise BadRequest("Name is required")
    name = normalize_name(raw_name)
    tags = tags_param(request)
    created_at = time_param(request, "CreatedAt")
    updated_at = time_param(request, "UpdatedAt") or date_header(request)
    executable = bool_param(request, "Executable")
    mime = content_type(request) if kind == "file" else None
    size = declared_size(request) if kind == "file" else None

    parent = await access.vfs.get_or_none(
        access.instance, request.path_params.get("dir_id") or ROOT_DIR_ID
    )
    if parent is None:
        raise access.absent("POST")
    parent_target = await access.target(parent)
    new_target = await access.targets.for_new(
        parent, name, type=kind, mime=mime or "", class_=mime_class(mime) if mime else ""
    )
    access.require("POST", dataclasses.replace(new_target, tags=tuple(tags)), visible=parent_target)
    if not parent.is_dir:
        raise NotADirectory(f"{parent.name!r} is not a directory")
    existing = await access.vfs.child(access.instance, parent, name)
    if existing is not None:
        raise NameTaken(f"{name!r} already exists here", existing_id=existing.id)

    if kind == "directory":
        doc = await access.vfs.create_dir(
            access.instance,
            parent,
            name,
            created_at=created_at,
            updated_at=updated_at,
            tags=tags,
            app_slug=access.app_slug,
        )
        return await file_answer(access, request, doc, 201)
    async with await _stage(access, request, size) as content:
        doc = await access.vfs.create_file(
            access.instance,
            parent,
            name,
            content,
            mime=mime,
            created_at=created_at,
            updated_at=updated_at,
            tags=tags,
            executable=executable,
            app_slug=access.app_slug,
        )
    return await file_answer(access, request, doc, 201)


async def overwrite(request: Request) -> Response:
    """PUT /files/{id}: new content; the previous one becomes a version."""
    access = await FileAccess.of(request)
    mime = content_type(request)
    size = declared_size(request)
    updated_at = time_param(request, "UpdatedAt") or date_header(request)
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory")
    if doc.in_trash:
        raise missing()
    if_rev = if_match(request, doc)
    new_target = target
    if mime:
        new_target = dataclasses.replace(target, mime=mime, class_=mime_class(mime))
    access.require("PUT", new_target)
    async with await _stage(access, request, size) as content:
        updated = await access.vfs.overwrite_file(
            access.instance,
            doc,
            content,
            if_rev=if_rev,
            mime=mime,
            updated_at=updated_at,
            app_slug=access.app_slug,
        )
    return await file_answer(access, request, updated)


# -- downloads ----------------------------------------------------------------------------


def content_disposition(kind: str, name: str) -> str:
    """`inline`/`attachment` with the name: plain when it is safe ASCII, RFC 5987 otherwise."""
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename*=UTF-8''{quote(name, safe='')}"


async def serve(request: Request, doc: FileDoc, content: FileContent, mime: str) -> Response:
    """The bytes of `content` (a file's or one of its versions') under `doc`'s name."""
    last_modified = None
    moment = parse_time(doc.updated_at)
    if moment is not None:
        last_modified = formatdate(moment.timestamp(), usegmt=True)
    kind = "attachment" if bool_param(request, "Dl") else "inline"
    headers = {
        "ETag": content.etag,
        "Content-Disposition": content_disposition(kind, doc.name),
        # Files are the owner's data, and some are HTML or SVG: never let a browser run them
        # with the instance's cookies, nor a shared cache keep them.
        "Content-Security-Policy": "sandbox",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    }
    if last_modified:
        headers["Last-Modified"] = last_modified
    if none_match(request.headers.get("if-none-match"), content.etag):
        return Response(status_code=304, headers=headers)
    try:
        file = await content.open()
    except BlobMissing:
        raise missing() from None
    range_header = request.headers.get("range")
    if not if_range_allows(request.headers.get("if-range"), content.etag, last_modified):
        range_header = None
    return content_response(
        file,
        size=content.size,
        content_type=mime,
        headers=headers,
        range_header=range_header,
        head_only=request.method == "HEAD",
    )


async def _download(request: Request, access: FileAccess, doc: FileDoc) -> Response:
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory: download its files one by one")
    content = await access.vfs.open(access.instance, doc)
    return await serve(request, doc, content, content.mime)


async def download(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    return await _download(request, access, doc)


async def download_by_path(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load_path(absolute_path(request))
    return await _download(request, access, doc)
