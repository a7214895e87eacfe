"""The methods that only read: OPTIONS, GET, HEAD, PROPFIND."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import TypeVar
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.responses import FileResponse, Response, StreamingResponse

from . import davxml
from .access import allow_read, readable_children
from .call import Call
from .conditions import check_if, read_precondition
from .dates import http_date, updated_datetime
from .errors import XML, BadRequest, DavError
from .ports import BlobStream, Entry, NotFound
from .properties import PropRenderer

I = TypeVar("I")  # noqa: E741

DAV_METHODS = [
    "OPTIONS",
    "GET",
    "HEAD",
    "PUT",
    "DELETE",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
]
ALLOW = ", ".join(DAV_METHODS)
_INLINE_READ = 64 * 1024


class BlobResponse(FileResponse):
    # Bigger reads than Starlette's 64 KiB: one worker-thread hop per MiB streamed.
    chunk_size = 1024 * 1024


def options_response() -> Response:
    return Response(
        status_code=200,
        headers={
            "DAV": "1, 2",
            "MS-Author-Via": "DAV",
            "Allow": ALLOW,
            "Accept-Ranges": "bytes",
            "Content-Length": "0",
        },
    )


class _ContentGone(Exception):
    """The entry's content is not where the entry says (it was replaced or removed)."""


async def get(call: Call[I]) -> Response:
    """GET and HEAD: a file's bytes, or a small HTML listing of a collection.

    The entry may come from what the tree holds (`resolve(reading=True)`); when its content
    proves gone, another process replaced or removed it meanwhile, and the store is asked."""
    try:
        return await _get(call, await call.resolve(call.path, reading=True))
    except _ContentGone:
        pass
    try:
        return await _get(call, await call.resolve_again(call.path))
    except _ContentGone:
        raise DavError(404, "the file's content is missing") from None


async def _get(call: Call[I], entry: Entry | None) -> Response:
    if entry is None:
        raise DavError(404, "not found")
    await allow_read(call, entry)
    if entry.is_dir:
        (entry,) = await call.tree.with_subtree_etags(call.instance, [entry])
    await check_if(call)
    headers = {"ETag": entry.etag, "Last-Modified": http_date(updated_datetime(entry))}
    not_modified = read_precondition(call.request, entry)
    if not_modified is not None:
        return Response(status_code=not_modified, headers=headers)
    if entry.is_dir:
        return await _listing(call, entry, headers)
    try:
        blob = await call.tree.open(call.instance, entry)
    except NotFound:
        raise _ContentGone from None
    if blob.path is None:
        assert blob.stream is not None
        return _streamed(call, blob.stream, blob.mime, headers)
    try:
        # One descriptor for the size and the bytes: one path lookup, no buffered file
        # object (a small blob from the page cache reads faster than a worker-thread hop).
        fd = os.open(blob.path, os.O_RDONLY)
    except FileNotFoundError:
        raise _ContentGone from None
    try:
        stat = os.fstat(fd)
        if stat.st_size <= _INLINE_READ and "range" not in call.request.headers:
            body = _read_all(fd, stat.st_size) if call.method == "GET" else b""
            size = len(body) if call.method == "GET" else stat.st_size
            headers.update({"Accept-Ranges": "bytes", "Content-Length": str(size)})
            return Response(body, media_type=blob.mime, headers=headers)
    finally:
        os.close(fd)
    return BlobResponse(blob.path, headers=headers, media_type=blob.mime, stat_result=stat)


def _read_all(fd: int, size: int) -> bytes:
    """The `size` bytes of a blob (blobs never change once written: a short read is only
    the kernel's choice, never a file being written)."""
    body = os.read(fd, size)
    while len(body) < size:
        more = os.read(fd, size - len(body))
        if not more:
            break
        body += more
    return body


def _streamed(call: Call[I], stream: BlobStream, mime: str, headers: dict[str, str]) -> Response:
    """Bytes from an object store: the whole, or one `bytes=a-b` range (206); a request
    for several ranges gets the whole (RFC 9110 allows ignoring Range)."""
    size = stream.size
    start, length, status = 0, size, 200
    wanted = _single_range(call.request.headers.get("range"), size)
    if wanted is not None:
        start, length = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    headers.update({"Accept-Ranges": "bytes", "Content-Length": str(length)})
    if call.method == "HEAD":
        stream.close()
        return Response(b"", status_code=status, media_type=mime, headers=headers)

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in stream.read(start, length):
                yield chunk
        finally:
            stream.close()

    return StreamingResponse(body(), status_code=status, media_type=mime, headers=headers)


def _single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, length) of a satisfiable single `bytes=` range, else None (serve it all)."""
    if not header or not header.startswith("bytes=") or "," in header or size == 0:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    try:
        if not first:
            length = min(int(last), size)
            return (size - length, length) if length > 0 else None
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start < 0 or start >= size or end < start:
        return None
    return start, end - start + 1


async def _listing(call: Call[I], entry: Entry, headers: dict[str, str]) -> Response:
    children = await readable_children(call, entry)
    items = "".join(
        f'<li><a href="{escape(quote(child.name))}{"/" if child.is_dir else ""}">'
        f"{escape(child.name)}{'/' if child.is_dir else ''}</a></li>"
        for child in children
    )
    title = escape(call.path.vfs_path)
    body = f"<!doctype html><title>{title}</title><h1>{title}</h1><ul>{items}</ul>"
    if not call.path.trailing_slash:
        body = body.replace('href="', f'href="{escape(quote(call.path.name))}/', len(children))
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


async def propfind(call: Call[I]) -> Response:
    depth = (call.request.headers.get("depth") or "1").strip().lower()
    if depth == "infinity":
        raise DavError(403, "Depth: infinity is not supported", condition="propfind-finite-depth")
    if depth not in ("0", "1"):
        raise BadRequest("Depth must be 0 or 1")
    wanted = davxml.parse_propfind(await call.read_xml())
    entry = await call.resolve(call.path)
    if entry is None:
        raise DavError(404, "not found")
    await allow_read(call, entry)
    await check_if(call)
    entries: list[tuple[Entry, tuple[str, ...]]] = [(entry, call.path.segments)]
    if depth == "1" and entry.is_dir:
        for child in await readable_children(call, entry):
            entries.append((child, (*call.path.segments, child.name)))
    if entry.is_dir:
        # The folders' ETags change with their subtrees: one read for all of them.
        stamped = await call.tree.with_subtree_etags(call.instance, [item for item, _ in entries])
        entries = [(item, segments) for item, (_, segments) in zip(stamped, entries, strict=True)]
    renderer = PropRenderer(wanted)
    await renderer.prepare(call)
    parts = [davxml.MULTISTATUS_OPEN]
    parts.extend(renderer.response(item, segments) for item, segments in entries)
    parts.append(davxml.MULTISTATUS_CLOSE)
    return Response("".join(parts), status_code=207, media_type=XML)
