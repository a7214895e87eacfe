"""Property tests for what the server parses from clients: paths, If headers, XML."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roost.dav.tree import normalize
from roost.webdav.davxml import parse_propfind, parse_proppatch
from roost.webdav.errors import BadRequest, DavError
from roost.webdav.ifheader import parse_if_header, submitted_tokens
from roost.webdav.paths import href_for, parse_destination, parse_raw_path

segment_text = st.text(min_size=1, max_size=40)


@given(st.lists(segment_text, max_size=6))
def test_any_path_is_refused_or_stays_inside(segments: list[str]) -> None:
    raw = "/dav/files/" + "/".join(quote(s, safe="") for s in segments)
    try:
        parsed = parse_raw_path(raw, normalize)
    except BadRequest:
        return
    for segment in parsed.segments:
        assert segment not in ("", ".", "..")
        assert "/" not in segment and "\\" not in segment and "\x00" not in segment
    # what we print as an href parses back to the same place
    assert (
        parse_raw_path(href_for(parsed.segments, collection=False), normalize).segments
        == parsed.segments
    )


@given(st.text(max_size=80))
def test_raw_garbage_paths_never_escape(raw: str) -> None:
    try:
        parsed = parse_raw_path("/dav/files/" + raw, normalize)
    except BadRequest:
        return
    assert all(s not in (".", "..") and "/" not in s for s in parsed.segments)


@pytest.mark.parametrize(
    "raw",
    ["/dav/files/a/../b", "/dav/files/%2e%2E/x", "/dav/files/a%2Fb", "/dav/files/a%5cb", "/x/y"],
)
def test_known_bad_paths(raw: str) -> None:
    with pytest.raises(DavError):
        parse_raw_path(raw, normalize)


def test_destination_must_be_same_host() -> None:
    assert parse_destination("http://h:1/dav/files/a%20b", "h:1", "http", normalize).segments == (
        "a b",
    )
    assert parse_destination("/dav/files/a/", "h:1", "http", normalize).segments == ("a",)
    for bad in ("http://other/dav/files/a", "/elsewhere/a", "mailto:x@y"):
        with pytest.raises(DavError):
            parse_destination(bad, "h:1", "http", normalize)


@given(st.text(max_size=120))
def test_if_header_parser_only_raises_bad_request(text: str) -> None:
    try:
        lists = parse_if_header(text)
    except BadRequest:
        return
    assert lists
    submitted_tokens(lists)


def test_if_header_forms() -> None:
    lists = parse_if_header(
        '<http://h/dav/files/a> (<opaquelocktoken:1> ["e"]) (Not <DAV:no-lock>)'
    )
    assert [lst.resource for lst in lists] == ["http://h/dav/files/a"] * 2
    assert submitted_tokens(lists) == {"opaquelocktoken:1"}
    assert lists[1].conditions[0].negated


@given(st.binary(max_size=300))
def test_xml_parsers_only_raise_bad_request(body: bytes) -> None:
    for parse in (parse_propfind, parse_proppatch):
        try:
            parse(body)
        except BadRequest:
            pass
