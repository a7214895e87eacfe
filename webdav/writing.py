"""The methods that change the tree: PUT, DELETE, MKCOL, COPY, MOVE."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from .access import allow, allow_new, allow_read
from .call import Call
from .conditions import check_if, check_locks, check_write_preconditions
from .dates import http_date, mtime_header, updated_datetime
from .errors import BadRequest, DavError, Forbidden
from .ports import NameTaken
from .reading import ALLOW

I = TypeVar("I")  # noqa: E741


def _refuse_hidden(call: Call[I], segments: tuple[str, ...]) -> None:
    if len(segments) == 1 and segments[0] in call.tree.hidden_names:
        raise Forbidden(f"{segments[0]} is reserved")


async def put(call: Call[I]) -> Response:
    path = call.path
    if "content-range" in call.request.headers:
        # RFC 9110 §14.5: a partial PUT must not be stored as if it were the whole file.
        raise BadRequest("PUT with Content-Range (a partial update) is not supported")
    if path.is_root:
        raise DavError(405, "the root is a collection", headers={"Allow": ALLOW})
    _refuse_hidden(call, path.segments)
    parent = await call.resolve(path.parent)
    if parent is None or not parent.is_dir:
        raise DavError(409, "the parent collection does not exist")
    # Side by side, the name lookup, the locks that could cover it and the parent's place
    # leave in one store request (the stack keeps them in one database and groups
    # concurrent reads).
    entry, _, folder = await asyncio.gather(
        call.resolve(path),
        call.locks_on([path, path.parent]),
        call.tree.confirm(call.instance, parent),
    )
    if entry is not None and entry.is_dir:
        raise DavError(405, "PUT on a collection", headers={"Allow": ALLOW})
    if entry is not None:
        await allow(call, "PUT", entry)
        await check_locks(call, [path])
    else:
        await allow_new(call, "POST", folder, path.name, is_dir=False)
        await check_locks(call, [path, path.parent])
    await check_if(call)
    check_write_preconditions(call.request, entry)
    mtime = mtime_header(call.request.headers.get("x-oc-mtime"))
    size = _content_length(call.request)
    declared_type = call.request.headers.get("content-type")
    tree, instance = call.tree, call.instance
    upload = await tree.stage(instance, call.request.stream(), size=size)
    try:
        status = 204
        if entry is None:
            try:
                entry = await tree.create_file(
                    instance,
                    folder,
                    path.name,
                    upload,
                    declared_type=declared_type,
                    updated_at=mtime,
                )
                status = 201
            except NameTaken:
                # Another request created it meanwhile: this PUT now overwrites it.
                entry = await tree.child(instance, folder, path.name)
                if entry is None or entry.is_dir:
                    raise DavError(409, "the name is being used by another request") from None
                await allow(call, "PUT", entry)
        if status == 204:
            entry = await tree.overwrite_file(
                instance, entry, upload, declared_type=declared_type, updated_at=mtime
            )
    finally:
        await upload.discard()
    headers = {"ETag": entry.etag, "Last-Modified": http_date(updated_datetime(entry))}
    if mtime:
        headers["X-OC-Mtime"] = "accepted"
    return Response(status_code=status, headers=headers)


def _content_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None or "chunked" in request.headers.get("transfer-encoding", "").lower():
        return None
    try:
        size = int(declared)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if size < 0:
        raise BadRequest("invalid Content-Length")
    return size


async def delete(call: Call[I]) -> Response:
    path = call.path
    if path.is_root:
        raise Forbidden("the root collection cannot be deleted")
    entry = await call.resolve(path)
    if entry is None:
        raise DavError(404, "not found")
    await allow(call, "DELETE", entry)
    await check_locks(call, [path, path.parent], subtree=path if entry.is_dir else None)
    await check_if(call)
    await call.tree.trash(call.instance, entry)
    await _drop_locks_at_or_below(call, path.vfs_path)
    return Response(status_code=204)


async def _drop_locks_at_or_below(call: Call[I], vfs_path: str) -> None:
    """Locks protect URLs: what was at `vfs_path` is gone, and its locks with it."""
    for lock in await call.all_locks():
        if lock.path == vfs_path or lock.is_below(vfs_path):
            await call.lock_store.remove(call.instance, lock)


async def mkcol(call: Call[I]) -> Response:
    path = call.path
    body = await call.read_xml()
    if body:
        raise DavError(415, "MKCOL with a body is not supported")
    if path.is_root:
        raise DavError(405, "the root exists", headers={"Allow": ALLOW})
    _refuse_hidden(call, path.segments)
    entry = await call.resolve(path)
    if entry is not None:
        raise DavError(405, "something already exists there", headers={"Allow": ALLOW})
    parent = await call.resolve(path.parent)
    if parent is None or not parent.is_dir:
        raise DavError(409, "the parent collection does not exist")
    await allow_new(call, "POST", parent, path.name, is_dir=True)
    await check_locks(call, [path, path.parent])
    await check_if(call)
    try:
        await call.tree.create_dir(call.instance, parent, path.name)
    except NameTaken:
        raise DavError(405, "something already exists there") from None
    return Response(status_code=201)


async def copy_or_move(call: Call[I]) -> Response:
    moving = call.method == "MOVE"
    source_path = call.path
    if source_path.is_root:
        raise Forbidden("the root collection cannot be copied or moved")
    source = await call.resolve(source_path)
    if source is None:
        raise DavError(404, "not found")
    if moving:
        await allow(call, "PUT", source)
    else:
        await allow_read(call, source)
    header = call.request.headers.get("destination")
    if not header:
        raise BadRequest("a Destination header is required")
    dest_path = call.destination(header)
    if dest_path.is_root or dest_path.segments[0] in call.tree.hidden_names:
        raise Forbidden("that destination is not writable")
    if dest_path.segments == source_path.segments:
        raise Forbidden("the source and the destination are the same")
    if source.is_dir and source_path.is_ancestor_of(dest_path):
        raise Forbidden("a collection cannot be copied or moved into itself")
    depth = call.header("depth", "infinity").strip().lower()
    if depth not in ("0", "infinity") or (moving and source.is_dir and depth != "infinity"):
        raise BadRequest(f"Depth {depth} is not valid for {call.request.method}")
    overwrite = call.header("overwrite", "T").strip().upper()
    if overwrite not in ("T", "F"):
        raise BadRequest("Overwrite must be T or F")
    dest_parent = await call.resolve(dest_path.parent)
    if dest_parent is None or not dest_parent.is_dir:
        raise DavError(409, "the destination's parent collection does not exist")
    existing = await call.resolve(dest_path)
    if existing is not None and overwrite == "F":
        raise DavError(412, "the destination exists and Overwrite is F")
    if existing is not None and dest_path.is_ancestor_of(source_path):
        raise Forbidden("the destination contains the source")
    if moving:
        await allow_new(
            call, "PUT", dest_parent, dest_path.name, is_dir=source.is_dir, mime=source.mime
        )
    else:
        await allow_new(call, "POST", dest_parent, dest_path.name, is_dir=source.is_dir)
    if existing is not None:
        await allow(call, "DELETE", existing)
    if moving:
        await check_locks(
            call,
            [source_path, source_path.parent],
            subtree=source_path if source.is_dir else None,
        )
    await check_locks(
        call,
        [dest_path, dest_path.parent],
        subtree=dest_path if existing is not None and existing.is_dir else None,
    )
    await check_if(call)
    mtime = mtime_header(call.request.headers.get("x-oc-mtime"))
    tree, instance = call.tree, call.instance
    if existing is not None:
        await tree.trash(instance, existing)
        await _drop_locks_at_or_below(call, dest_path.vfs_path)
    if moving:
        await tree.move(instance, source, dest_parent, dest_path.name, updated_at=mtime)
        await _drop_locks_at_or_below(call, source_path.vfs_path)
    elif source.is_dir and depth == "0":
        copied = await tree.create_dir(
            instance,
            dest_parent,
            dest_path.name,
            created_at=source.created_at or None,
            updated_at=source.updated_at or None,
        )
        if source.dav_properties:
            await tree.set_dead_properties(
                instance, copied, set_properties=source.dav_properties, remove=[]
            )
    else:
        await tree.copy(instance, source, dest_parent, dest_path.name)
    return Response(status_code=204 if existing is not None else 201)
