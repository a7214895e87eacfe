"""Range parsing and partial answers (RFC 9110 §14), independent of any stored file."""

from __future__ import annotations

import io
import itertools

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import RangeNotSatisfiable
from roost.web.byte_ranges import (
    MAX_RANGES,
    ByteRange,
    content_response,
    if_range_allows,
    parse_range,
)

CONTENT = bytes(range(256)) * 4  # 1024 bytes


def test_no_header_or_empty_content_sends_everything() -> None:
    assert parse_range(None, 10) is None
    assert parse_range("bytes=0-1", 0) is None


def test_single_ranges() -> None:
    assert parse_range("bytes=0-9", 100) == [ByteRange(0, 10)]
    assert parse_range("bytes=90-", 100) == [ByteRange(90, 100)]
    assert parse_range("bytes=-5", 100) == [ByteRange(95, 100)]
    assert parse_range("bytes=-500", 100) == [ByteRange(0, 100)]
    assert parse_range("bytes=50-5000", 100) == [ByteRange(50, 100)]


def test_overlapping_ranges_are_merged_and_sorted() -> None:
    assert parse_range("bytes=50-59, 0-9,5-14", 100) == [ByteRange(0, 15), ByteRange(50, 60)]
    assert parse_range("bytes=0-9,10-19", 100) == [ByteRange(0, 20)]


def test_malformed_or_foreign_headers_are_ignored() -> None:
    for header in ("items=0-1", "bytes=a-b", "bytes=5-1", "bytes=", "bytes=-", "0-1", "bytes=1"):
        assert parse_range(header, 100) is None, header


def test_too_many_ranges_are_ignored() -> None:
    header = "bytes=" + ",".join(f"{i * 2}-{i * 2}" for i in range(MAX_RANGES + 1))
    assert parse_range(header, 1000) is None


def test_unsatisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-0", 100)
    # One satisfiable range is enough.
    assert parse_range("bytes=500-600,0-0", 100) == [ByteRange(0, 1)]


def test_if_range() -> None:
    assert if_range_allows(None, '"abc"', None)
    assert if_range_allows('"abc"', '"abc"', None)
    assert not if_range_allows('"abd"', '"abc"', None)
    assert not if_range_allows('W/"abc"', '"abc"', None)
    date = "Mon, 19 Sep 2016 12:38:04 GMT"
    assert if_range_allows(date, '"abc"', date)
    assert not if_range_allows(date, '"abc"', None)


@given(st.integers(min_value=1, max_value=5000), st.data())
def test_parsed_ranges_stay_inside_and_disjoint(size: int, data: st.DataObject) -> None:
    specs = data.draw(
        st.lists(
            st.one_of(
                st.tuples(st.integers(0, 6000), st.none()),
                st.tuples(st.none(), st.integers(0, 6000)),
                st.tuples(st.integers(0, 6000), st.integers(0, 6000)).map(
                    lambda t: (min(t), max(t))
                ),
            ),
            min_size=1,
            max_size=MAX_RANGES,
        )
    )
    header = "bytes=" + ",".join(
        f"{'' if a is None else a}-{'' if b is None else b}" for a, b in specs
    )
    try:
        ranges = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    assert ranges
    for byte_range in ranges:
        assert 0 <= byte_range.start < byte_range.stop <= size
    for left, right in itertools.pairwise(ranges):
        assert left.stop < right.start


async def _serve(request: Request) -> Response:
    return content_response(
        io.BytesIO(CONTENT),
        size=len(CONTENT),
        content_type="application/octet-stream",
        headers={"ETag": '"tag"'},
        range_header=request.headers.get("range"),
        head_only=request.method == "HEAD",
    )


@pytest.fixture
async def range_client() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/c", _serve, methods=["GET", "HEAD"])])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_whole_single_and_multi_range_answers(range_client: httpx.AsyncClient) -> None:
    whole = await range_client.get("/c")
    assert whole.status_code == 200
    assert whole.content == CONTENT
    assert whole.headers["accept-ranges"] == "bytes"

    one = await range_client.get("/c", headers={"Range": "bytes=10-19"})
    assert one.status_code == 206
    assert one.content == CONTENT[10:20]
    assert one.headers["content-range"] == f"bytes 10-19/{len(CONTENT)}"
    assert one.headers["etag"] == '"tag"'

    many = await range_client.get("/c", headers={"Range": "bytes=0-3,-4"})
    assert many.status_code == 206
    assert int(many.headers["content-length"]) == len(many.content)
    boundary = many.headers["content-type"].split("boundary=")[1]
    parts = many.content.split(f"--{boundary}".encode())
    assert parts[-1] == b"--\r\n"
    bodies = [p.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n") for p in parts[1:-1]]
    assert bodies == [CONTENT[:4], CONTENT[-4:]]
    assert b"Content-Range: bytes 0-3/1024" in parts[1]


async def test_unsatisfiable_is_416_json(range_client: httpx.AsyncClient) -> None:
    response = await range_client.get("/c", headers={"Range": "bytes=5000-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(CONTENT)}"
    assert response.json()["error"] == "range_not_satisfiable"


async def test_head_sends_headers_only(range_client: httpx.AsyncClient) -> None:
    response = await range_client.head("/c", headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.headers["content-length"] == "10"
    assert response.content == b""
