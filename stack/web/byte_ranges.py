"""HTTP byte ranges (RFC 9110 §14): parse `Range`, answer 200, 206 or multipart/byteranges.

The bytes come from a binary file object opened *before* the answer starts: the VFS replaces
content by renaming a new file over the old one, so an open descriptor keeps serving the
bytes the headers (ETag, length) describe even if the file is overwritten meanwhile.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO, Final, cast

import anyio.to_thread
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from roost.errors import RangeNotSatisfiable
from roost.vfs.blob_store import BlobReader
from roost.web.error_table import answer_for
from roost.web.errors import error_response

CHUNK_BYTES: Final = 256 * 1024
# Many small ranges cost more than the whole body and are a known amplification trick;
# past this count the Range header is ignored (RFC 9110 allows it) and 200 is answered.
MAX_RANGES: Final = 32


@dataclass(frozen=True)
class ByteRange:
    """Bytes `start` to `stop - 1` of the content."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


def _parse_spec(spec: str, size: int) -> ByteRange | bool | None:
    """One range-spec: a ByteRange, None when unsatisfiable, False when malformed."""
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first or last):
        return False
    if (first and not first.isdigit()) or (last and not last.isdigit()):
        return False
    if not first:
        suffix = int(last)
        if suffix == 0:
            return None
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    if last and int(last) < start:
        return False
    if start >= size:
        return None
    stop = size if not last else min(int(last) + 1, size)
    return ByteRange(start, stop)


def parse_range(header: str | None, size: int) -> list[ByteRange] | None:
    """The ranges to send, sorted and merged; None means "ignore Range, send everything".

    Raises `RangeNotSatisfiable` (416) when the header is valid but no range overlaps.
    Malformed headers, other units, empty content and too many ranges are ignored.
    """
    if header is None or size == 0:
        return None
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return None
    ranges: list[ByteRange] = []
    for part in parts:
        parsed = _parse_spec(part, size)
        if parsed is False:
            return None
        if isinstance(parsed, ByteRange):
            ranges.append(parsed)
    if not ranges:
        raise RangeNotSatisfiable(size)
    ranges.sort(key=lambda r: r.start)
    merged = [ranges[0]]
    for current in ranges[1:]:
        previous = merged[-1]
        if current.start <= previous.stop:
            merged[-1] = ByteRange(previous.start, max(previous.stop, current.stop))
        else:
            merged.append(current)
    return merged


def if_range_allows(if_range: str | None, etag: str, last_modified: str | None) -> bool:
    """Whether a `Range` may be honoured given `If-Range` (strong comparison only)."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return value == etag
    return last_modified is not None and value == last_modified


class _OpenFile:
    """A local file as a `BlobReader` (the shape the blob stores' readers have)."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size

    async def read(self, start: int, length: int) -> AsyncIterator[bytes]:
        # File reads block; they go to a worker thread so the event loop keeps serving.
        await anyio.to_thread.run_sync(self.file.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(self.file.read, min(CHUNK_BYTES, remaining))
            if not chunk:
                # The file shrank under us (it should not: content is replaced by rename).
                break
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.file.close()


async def _close(file: BlobReader) -> None:
    await anyio.to_thread.run_sync(file.close)


def _part_header(boundary: str, content_type: str, byte_range: ByteRange, size: int) -> bytes:
    return (
        f"--{boundary}\r\nContent-Type: {content_type}\r\n"
        f"Content-Range: {byte_range.content_range(size)}\r\n\r\n"
    ).encode("latin-1")


def content_response(
    source: BinaryIO | BlobReader,
    *,
    size: int,
    content_type: str,
    headers: Mapping[str, str],
    range_header: str | None,
    head_only: bool = False,
) -> Response:
    """200 with the whole content, 206 with one range, or 206 multipart/byteranges.

    `source` (an open file, or a blob store's reader) is closed when the answer is over
    (or at once for HEAD and 416).
    """
    file: BlobReader
    if hasattr(source, "seek"):
        file = _OpenFile(cast(BinaryIO, source), size)
    else:
        file = source
    try:
        ranges = parse_range(range_header, size)
    except RangeNotSatisfiable as unsatisfiable:
        file.close()
        answer = answer_for(unsatisfiable)
        return error_response(
            answer.status,
            answer.code,
            unsatisfiable.reason,
            {**headers, "Content-Range": f"bytes */{size}"},
        )
    answer_headers = {**headers, "Accept-Ranges": "bytes"}
    status = 200
    body: AsyncIterator[bytes]
    if ranges is None:
        answer_headers["Content-Length"] = str(size)
        answer_headers["Content-Type"] = content_type
        body = file.read(0, size)
    elif len(ranges) == 1:
        status = 206
        answer_headers["Content-Range"] = ranges[0].content_range(size)
        answer_headers["Content-Length"] = str(ranges[0].length)
        answer_headers["Content-Type"] = content_type
        body = file.read(ranges[0].start, ranges[0].length)
    else:
        status = 206
        boundary = secrets.token_hex(16)
        closing = f"\r\n--{boundary}--\r\n".encode("latin-1")
        heads = [_part_header(boundary, content_type, r, size) for r in ranges]
        # Every part header but the first starts on a new line (the CRLF ends the previous
        # part's bytes), as RFC 2046 puts the delimiter after a CRLF.
        total = sum(len(h) + r.length for h, r in zip(heads, ranges, strict=True))
        total += 2 * (len(ranges) - 1) + len(closing)
        answer_headers["Content-Length"] = str(total)
        answer_headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
        body = _multipart(file, ranges, heads, closing)
    if head_only:
        file.close()
        return Response(b"", status_code=status, headers=answer_headers)
    return StreamingResponse(
        _closing(body, file),
        status_code=status,
        headers=answer_headers,
        background=BackgroundTask(_close, file),
    )


async def _multipart(
    file: BlobReader, ranges: list[ByteRange], heads: list[bytes], closing: bytes
) -> AsyncIterator[bytes]:
    for index, (head, byte_range) in enumerate(zip(heads, ranges, strict=True)):
        yield head if index == 0 else b"\r\n" + head
        async for chunk in file.read(byte_range.start, byte_range.length):
            yield chunk
    yield closing


async def _closing(body: AsyncIterator[bytes], file: BlobReader) -> AsyncIterator[bytes]:
    try:
        async for chunk in body:
            yield chunk
    finally:
        file.close()
