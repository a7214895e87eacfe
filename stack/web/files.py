"""`/files`: cozy-stack's file API (docs/api/files.md) over the VFS.

Upload and directory creation, metadata by id and path, downloads with Range and
conditional requests, new content, rename/move/tags, trash, versions, references and disk
usage. Handlers parse and validate everything they can *before* reading a body or writing
anything, ask `roost.permissions.check` through `FileAccess`, then call one VFS method.
Answers are JSON:API documents like cozy-stack's; errors stay Roost's `{"error","reason"}`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Final
from urllib.parse import quote, urlencode

import anyio.to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.errors import BadRequest
from roost.permissions import (
    FILES_DOCTYPE,
    ROOT_DIR_ID,
    TRASH_DIR_ID,
    DocumentTarget,
    check,
)
from roost.vfs import (
    FileContent,
    FileDoc,
    IncompleteUpload,
    IsADirectory,
    NameConflict,
    NotADirectory,
    RevisionMismatch,
    StagedContent,
    normalize_name,
)
from roost.vfs.filedoc import parse_time
from roost.vfs.mime import mime_class
from roost.web import references
from roost.web.byte_ranges import content_response, if_range_allows
from roost.web.context import instance_of, principal_of, read_json, services_of
from roost.web.file_access import FileAccess, missing
from roost.web.files_jsonapi import document, file_object, version_object

JSONAPI: Final = "application/vnd.api+json"
DEFAULT_PAGE: Final = 30
MAX_PAGE: Final = 1000
MAX_TAGS: Final = 100
MAX_TAG_LENGTH: Final = 255
SETTINGS_DOCTYPE: Final = "io.cozy.settings"
DISK_USAGE_ID: Final = "io.cozy.settings.disk-usage"
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_READ_CHUNK: Final = 256 * 1024


def jsonapi(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(content, status_code=status, headers=headers, media_type=JSONAPI)


# -- request parsing (all of it before any byte of a body is read) -------------------------


def _bool_param(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value is None or value == "":
        return False
    if value.lower() not in ("true", "false", "1", "0"):
        raise BadRequest(f"{name} must be true or false")
    return value.lower() in ("true", "1")


def _tags_param(request: Request) -> list[str]:
    tags: list[str] = []
    for raw in request.query_params.getlist("Tags") + request.query_params.getlist("Tags[]"):
        tags.extend(part.strip() for part in raw.split(","))
    return _valid_tags([tag for tag in tags if tag])


def _valid_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadRequest("tags must be a list of strings")
    if len(tags) > MAX_TAGS:
        raise BadRequest(f"at most {MAX_TAGS} tags")
    for tag in tags:
        if not tag or len(tag) > MAX_TAG_LENGTH or any(ord(ch) < 32 for ch in tag):
            raise BadRequest(f"invalid tag {tag!r}")
    return list(dict.fromkeys(tags))


def _time_value(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or parse_time(value) is None:
        raise BadRequest(f"{name} must be an ISO 8601 date, like 2024-05-06T07:08:09Z")
    return value


def _date_header(request: Request) -> str | None:
    """The HTTP `Date` header as ISO 8601 (cozy-stack takes it as the modification time)."""
    raw = request.headers.get("date")
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise BadRequest("the Date header is not an HTTP date") from None
    return moment.isoformat().replace("+00:00", "Z")


def _declared_size(request: Request) -> int | None:
    raw = request.headers.get("content-length") or request.query_params.get("Size")
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit():
        raise BadRequest("Content-Length (or Size) must be a non-negative integer")
    return int(raw)


def _content_md5(request: Request) -> str | None:
    raw = request.headers.get("content-md5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("Content-MD5 must be the base64 of a 16-byte MD5 digest") from None
    if len(digest) != 16:
        raise BadRequest("Content-MD5 must be the base64 of a 16-byte MD5 digest")
    return base64.b64encode(digest).decode()


def _content_type(request: Request) -> str | None:
    """The mime type the client declares, unless it says nothing useful."""
    raw = request.headers.get("content-type")
    if not raw:
        return None
    mime = raw.split(";")[0].strip().lower()
    if mime == "application/octet-stream" or not _MIME.match(mime):
        return None
    return mime


def _if_match(request: Request, doc: FileDoc) -> str | None:
    """The revision an `If-Match` pins (a rev, or the ETag given by a download), or None.

    RevisionMismatch (412) at once when it names neither the current rev nor the content.
    """
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    for candidate in header.split(","):
        value = candidate.strip().removeprefix("W/").strip()
        if value.strip('"') == doc.rev or value == doc.etag:
            return doc.rev
    raise RevisionMismatch("the file has changed (If-Match does not match its revision)")


def _page(request: Request, default: int = DEFAULT_PAGE) -> tuple[int, str | None]:
    raw_limit = request.query_params.get("page[limit]")
    limit = default
    if raw_limit is not None:
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise BadRequest("page[limit] must be a positive integer")
        limit = min(int(raw_limit), MAX_PAGE)
    cursor = request.query_params.get("page[cursor]") or None
    return limit, cursor


def _next_link(request: Request, cursor: str, limit: int) -> str:
    query = urlencode({"page[cursor]": cursor, "page[limit]": str(limit)})
    return f"{request.url.path}?{query}"


async def _stage(access: FileAccess, request: Request, size: int | None) -> StagedContent:
    try:
        return await access.vfs.stage(
            access.instance, request.stream(), size=size, md5sum=_content_md5(request)
        )
    except ClientDisconnect:
        raise IncompleteUpload("the client went away before the end of the body") from None


# -- answers ------------------------------------------------------------------------------


async def _file_answer(
    access: FileAccess, request: Request, doc: FileDoc, status: int = 200
) -> Response:
    if doc.is_dir:
        return await _directory_answer(access, request, doc, status)
    versions = await access.vfs.list_versions(access.instance, doc.id)
    raw_versions = [version.doc for version in versions]
    body = document(
        file_object(doc.doc, versions=raw_versions),
        included=[version_object(version) for version in raw_versions],
    )
    headers = {"Location": f"{request.base_url}files/{quote(doc.id, safe='')}"}
    return jsonapi(body, status, headers)


async def _directory_answer(
    access: FileAccess, request: Request, directory: FileDoc, status: int = 200
) -> Response:
    limit, cursor = _page(request)
    entries = []
    for entry in await access.vfs.list_dir(access.instance, directory):
        if access.can_read(await access.targets.for_child(directory, entry)):
            entries.append(entry)
    remaining = [entry for entry in entries if cursor is None or entry.name > cursor]
    page = remaining[:limit]
    data = file_object(directory.doc)
    data.setdefault("relationships", {})["contents"] = {
        "data": [{"type": FILES_DOCTYPE, "id": entry.id} for entry in page]
    }
    links = {}
    if len(remaining) > limit:
        links["next"] = _next_link(request, page[-1].name, limit)
    body = document(
        data,
        included=[file_object(entry.doc) for entry in page],
        links=links,
        meta={"count": len(entries)},
    )
    headers = {"Location": f"{request.base_url}files/{quote(directory.id, safe='')}"}
    return jsonapi(body, status, headers)


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
    tags = _tags_param(request)
    created_at = _time_value(request.query_params.get("CreatedAt"), "CreatedAt")
    updated_at = _time_value(request.query_params.get("UpdatedAt"), "UpdatedAt")
    updated_at = updated_at or _date_header(request)
    executable = _bool_param(request, "Executable")
    mime = _content_type(request) if kind == "file" else None
    size = _declared_size(request) if kind == "file" else None

    access.may_touch("POST")
    parent = await access.vfs.get_or_none(
        access.instance, request.path_params.get("dir_id") or ROOT_DIR_ID
    )
    if parent is None:
        raise missing()
    parent_target = await access.target(parent)
    new_target = await access.targets.for_new(
        parent, name, type=kind, mime=mime or "", class_=mime_class(mime) if mime else ""
    )
    access.require("POST", dataclasses.replace(new_target, tags=tuple(tags)), visible=parent_target)
    if not parent.is_dir:
        raise NotADirectory(f"{parent.name!r} is not a directory")
    existing = await access.vfs.child(access.instance, parent, name)
    if existing is not None:
        raise NameConflict(f"{name!r} already exists here", existing_id=existing.id)

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
        return await _file_answer(access, request, doc, 201)
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
    return await _file_answer(access, request, doc, 201)


# -- reads --------------------------------------------------------------------------------


async def get_file(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    return await _file_answer(access, request, doc)


def _absolute_path(request: Request) -> str:
    path = request.query_params.get("Path")
    if not path:
        raise BadRequest("Path is required")
    if not path.startswith("/"):
        raise BadRequest("Path must be absolute (start with /)")
    return path


async def get_metadata(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load_path(_absolute_path(request))
    return await _file_answer(access, request, doc)


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


# -- downloads ----------------------------------------------------------------------------


def content_disposition(kind: str, name: str) -> str:
    """`inline`/`attachment` with the name: plain when it is safe ASCII, RFC 5987 otherwise."""
    if name.isascii() and name.isprintable() and '"' not in name and "\\" not in name:
        return f'{kind}; filename="{name}"'
    return f"{kind}; filename*=UTF-8''{quote(name, safe='')}"


def _none_match(header: str | None, etag: str) -> bool:
    if header is None:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match uses the weak comparison (RFC 9110 §13.1.2).
    bare = etag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == bare for part in header.split(","))


def _open(path: Path) -> BinaryIO:
    return path.open("rb")


async def _serve(request: Request, doc: FileDoc, content: FileContent, mime: str) -> Response:
    last_modified = None
    moment = parse_time(doc.updated_at)
    if moment is not None:
        last_modified = formatdate(moment.timestamp(), usegmt=True)
    kind = "attachment" if _bool_param(request, "Dl") else "inline"
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
    if _none_match(request.headers.get("if-none-match"), content.etag):
        return Response(status_code=304, headers=headers)
    try:
        file = await anyio.to_thread.run_sync(_open, content.path)
    except FileNotFoundError:
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
    return await _serve(request, doc, content, content.mime)


async def download(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    return await _download(request, access, doc)


async def download_by_path(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load_path(_absolute_path(request))
    return await _download(request, access, doc)


async def download_version(request: Request) -> Response:
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"])
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory: it has no versions")
    version = await access.vfs.get_version(
        access.instance, doc.id, request.path_params["version_id"]
    )
    content = await access.vfs.open_version(access.instance, version)
    return await _serve(request, doc, content, doc.mime or content.mime)


# -- changes ------------------------------------------------------------------------------


async def overwrite(request: Request) -> Response:
    """PUT /files/{id}: new content; the previous one becomes a version."""
    access = await FileAccess.of(request)
    mime = _content_type(request)
    size = _declared_size(request)
    updated_at = _time_value(request.query_params.get("UpdatedAt"), "UpdatedAt")
    updated_at = updated_at or _date_header(request)
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory")
    if doc.in_trash:
        raise missing()
    if_rev = _if_match(request, doc)
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
    return await _file_answer(access, request, updated)


_PATCHABLE: Final = frozenset(
    {
        "name",
        "dir_id",
        "tags",
        "created_at",
        "updated_at",
        "executable",
        "move_to_trash",
        "cozyMetadata",
        # Sent back by clients that echo the whole object; ignored when unchanged.
        "type",
        "path",
    }
)


def _patch_attributes(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attributes, dict):
        raise BadRequest('the body must be {"data": {"attributes": {…}}}')
    unknown = set(attributes) - _PATCHABLE
    if unknown:
        raise BadRequest(f"these attributes cannot be changed: {', '.join(sorted(unknown))}")
    return attributes


def _metadata_fields(doc: FileDoc, attributes: dict[str, Any]) -> dict[str, Any]:
    """The metadata changes of a PATCH (not name, dir_id, trash), validated."""
    fields: dict[str, Any] = {}
    if "tags" in attributes:
        fields["tags"] = _valid_tags(attributes["tags"])
    for key in ("created_at", "updated_at"):
        if key in attributes:
            if attributes[key] is None:
                raise BadRequest(f"{key} cannot be removed")
            fields[key] = _time_value(attributes[key], key)
    if "executable" in attributes:
        if not isinstance(attributes["executable"], bool):
            raise BadRequest("executable must be true or false")
        if doc.is_file:
            fields["executable"] = attributes["executable"]
    if "cozyMetadata" in attributes:
        given = attributes["cozyMetadata"]
        if not isinstance(given, dict) or set(given) - {"favorite"}:
            raise BadRequest("only cozyMetadata.favorite can be changed")
        if not isinstance(given.get("favorite", False), bool):
            raise BadRequest("cozyMetadata.favorite must be true or false")
        current = doc.doc.get("cozyMetadata")
        fields["cozyMetadata"] = {**(current if isinstance(current, dict) else {}), **given}
    if "type" in attributes and attributes["type"] != doc.type:
        raise BadRequest("the type of a file or directory cannot change")
    return fields


async def patch(request: Request) -> Response:
    """PATCH /files/{id}: rename, move (dir_id), tags, dates, favourite, or move to trash."""
    access = await FileAccess.of(request)
    attributes = _patch_attributes(await read_json(request))
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    if_rev = _if_match(request, doc)
    if attributes.get("move_to_trash") is True:
        access.may_touch("DELETE")
        access.require("DELETE", target)
        trashed = await access.vfs.trash(access.instance, doc, app_slug=access.app_slug)
        return await _file_answer(access, request, trashed)
    if "move_to_trash" in attributes and attributes["move_to_trash"] is not False:
        raise BadRequest("move_to_trash must be true or false")
    fields = _metadata_fields(doc, attributes)
    name = attributes.get("name")
    if name is not None:
        if not isinstance(name, str):
            raise BadRequest("name must be a string")
        name = normalize_name(name)
    dir_id = attributes.get("dir_id")
    if dir_id is not None and not isinstance(dir_id, str):
        raise BadRequest("dir_id must be a string")
    moving = (name is not None and name != doc.name) or (
        dir_id is not None and dir_id != doc.dir_id
    )

    new_target = target
    parent = None
    if moving:
        parent = await access.vfs.get_or_none(access.instance, dir_id or doc.dir_id or ROOT_DIR_ID)
        if parent is None:
            raise missing()
        parent_target = await access.target(parent)
        base = await access.targets.for_new(
            parent, name or doc.name, type=doc.type, mime=doc.mime, class_=doc.class_
        )
        new_target = dataclasses.replace(
            base, id=doc.id, tags=target.tags, referenced_by=target.referenced_by
        )
        access.require("PUT", new_target, visible=parent_target)
        if not parent.is_dir:
            raise NotADirectory(f"{parent.name!r} is not a directory")
    if "tags" in fields:
        new_target = dataclasses.replace(new_target, tags=tuple(fields["tags"]))
    access.require("PUT", new_target)

    updated = doc
    if moving:
        updated = await access.vfs.move(
            access.instance,
            doc,
            parent=parent,
            name=name,
            if_rev=if_rev,
            app_slug=access.app_slug,
        )
        if_rev = updated.rev
    if fields:
        updated = await access.vfs.update_fields(
            access.instance, updated, fields, if_rev=if_rev, app_slug=access.app_slug
        )
    return await _file_answer(access, request, updated)


async def delete(request: Request) -> Response:
    """DELETE /files/{id}: to the trash (DELETE /files/trash/{id} destroys)."""
    access = await FileAccess.of(request)
    doc, _target = await access.load(request.path_params["file_id"], "DELETE")
    _if_match(request, doc)
    if doc.is_root or doc.is_trash_dir:
        raise BadRequest("the root and trash directories cannot be trashed")
    trashed = await access.vfs.trash(access.instance, doc, app_slug=access.app_slug)
    return await _file_answer(access, request, trashed)


# -- trash --------------------------------------------------------------------------------


async def list_trash(request: Request) -> Response:
    access = await FileAccess.of(request)
    access.may_touch("GET")
    trash_dir = await access.vfs.get(access.instance, TRASH_DIR_ID)
    limit, cursor = _page(request)
    entries = []
    for entry in await access.vfs.list_trash(access.instance):
        if access.can_read(await access.targets.for_child(trash_dir, entry)):
            entries.append(entry)
    remaining = [entry for entry in entries if cursor is None or entry.name > cursor]
    page = remaining[:limit]
    links = {}
    if len(remaining) > limit:
        links["next"] = _next_link(request, page[-1].name, limit)
    data = [
        file_object(entry.doc, self_link=f"/files/trash/{quote(entry.id, safe='')}")
        for entry in page
    ]
    return jsonapi(document(data, links=links, meta={"count": len(entries)}))


async def _restore_destination(access: FileAccess, doc: FileDoc) -> FileDoc:
    """The deepest directory of the restore path that exists (the rest is recreated)."""
    path = doc.restore_path or "/"
    while True:
        found = await access.vfs.lookup_or_none(access.instance, path, targets=access.targets)
        if found is not None and found.is_dir and not found.in_trash:
            return found
        if path in ("", "/"):
            return await access.vfs.get(access.instance, ROOT_DIR_ID)
        path = path.rsplit("/", 1)[0] or "/"


async def restore(request: Request) -> Response:
    """POST /files/trash/{id}: back to where it was, renamed if the name is taken."""
    access = await FileAccess.of(request)
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    if doc.dir_id != TRASH_DIR_ID:
        raise BadRequest(f"{doc.name!r} is not at the top of the trash")
    destination = await _restore_destination(access, doc)
    base = await access.targets.for_new(
        destination, doc.name, type=doc.type, mime=doc.mime, class_=doc.class_
    )
    access.require(
        "PUT",
        dataclasses.replace(base, id=doc.id, tags=target.tags, referenced_by=target.referenced_by),
        visible=await access.target(destination),
    )
    restored = await access.vfs.restore(access.instance, doc, app_slug=access.app_slug)
    return await _file_answer(access, request, restored)


async def destroy(request: Request) -> Response:
    """DELETE /files/trash/{id}: delete for good (only what is in the trash)."""
    access = await FileAccess.of(request)
    doc, _ = await access.load(request.path_params["file_id"], "DELETE")
    if not doc.in_trash or doc.is_trash_dir:
        raise BadRequest(f"{doc.name!r} is not in the trash: trash it first")
    await access.vfs.destroy(access.instance, doc)
    return Response(status_code=204)


async def empty_trash(request: Request) -> Response:
    access = await FileAccess.of(request)
    access.may_touch("DELETE")
    trash_dir = await access.vfs.get(access.instance, TRASH_DIR_ID)
    check(access.principal.permissions, "DELETE", FILES_DOCTYPE, await access.target(trash_dir))
    await access.vfs.empty_trash(access.instance)
    return Response(status_code=204)


# -- versions -----------------------------------------------------------------------------


async def _blob_chunks(path: Path) -> AsyncIterator[bytes]:
    file = await anyio.to_thread.run_sync(_open, path)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(file.read, _READ_CHUNK)
            if not chunk:
                return
            yield chunk
    finally:
        file.close()


async def revert(request: Request) -> Response:
    """POST /files/revert/{id}/{version-id}: an old content becomes the current one (and
    the content it replaces becomes a version in turn)."""
    access = await FileAccess.of(request)
    doc, target = await access.load(request.path_params["file_id"], "PUT")
    if not doc.is_file:
        raise IsADirectory(f"{doc.name!r} is a directory: it has no versions")
    if doc.in_trash:
        raise missing()
    if_rev = _if_match(request, doc)
    access.require("PUT", target)
    version = await access.vfs.get_version(
        access.instance, doc.id, request.path_params["version_id"]
    )
    old = await access.vfs.open_version(access.instance, version)
    try:
        chunks = _blob_chunks(old.path)
        staged = await access.vfs.stage(access.instance, chunks, size=old.size, md5sum=old.md5sum)
    except FileNotFoundError:
        raise missing() from None
    async with staged as content:
        updated = await access.vfs.overwrite_file(
            access.instance, doc, content, if_rev=if_rev or doc.rev, app_slug=access.app_slug
        )
    return await _file_answer(access, request, updated)


# -- disk usage ---------------------------------------------------------------------------


async def disk_usage(request: Request) -> Response:
    """GET /settings/disk-usage: for the owner, a grant on the disk-usage setting, or any
    grant on files (an uploader needs to know how much room is left)."""
    principal = await principal_of(request)
    permissions = principal.permissions
    if not any(permissions.allows_some(verb, FILES_DOCTYPE) for verb in ("GET", "POST", "PUT")):
        check(permissions, "GET", SETTINGS_DOCTYPE, DocumentTarget({"_id": DISK_USAGE_ID}))
    services = services_of(request)
    usage = await services.vfs.disk_usage(instance_of(request))
    return jsonapi(
        {
            "data": {
                "type": SETTINGS_DOCTYPE,
                "id": DISK_USAGE_ID,
                "attributes": usage.to_json(),
                "meta": {},
            }
        }
    )


ROUTES: list[BaseRoute] = [
    Route("/files/", create, methods=["POST"]),
    Route("/files/trash", list_trash, methods=["GET"]),
    Route("/files/trash", empty_trash, methods=["DELETE"]),
    Route("/files/trash/{file_id}", restore, methods=["POST"]),
    Route("/files/trash/{file_id}", destroy, methods=["DELETE"]),
    Route("/files/metadata", get_metadata, methods=["GET"]),
    Route("/files/download", download_by_path, methods=["GET", "HEAD"]),
    Route("/files/download/{file_id}", download, methods=["GET", "HEAD"]),
    Route("/files/download/{file_id}/{version_id}", download_version, methods=["GET", "HEAD"]),
    Route("/files/revert/{file_id}/{version_id}", revert, methods=["POST"]),
    Route("/files/{file_id}/versions", list_versions, methods=["GET"]),
    *references.FILE_ROUTES,
    Route("/files/{dir_id}", create, methods=["POST"]),
    Route("/files/{file_id}", get_file, methods=["GET"]),
    Route("/files/{file_id}", overwrite, methods=["PUT"]),
    Route("/files/{file_id}", patch, methods=["PATCH"]),
    Route("/files/{file_id}", delete, methods=["DELETE"]),
    *references.DATA_ROUTES,
    Route("/settings/disk-usage", disk_usage, methods=["GET"]),
]
