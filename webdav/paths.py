"""Request URLs ↔ VFS paths, refusing anything that could leave the mounted tree.

The raw (still percent-encoded) path is split on `/` first and only then decoded, so an
encoded slash (`%2F`) or backslash can never create a path segment, and `..`/`.` in any
spelling (`%2e%2e`) is refused instead of being resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

from .errors import BadRequest, DavError
from .ports import InvalidInput

PREFIX = "/dav/files"

Normalize = Callable[[str], str]
"""The tree's name rule: a segment's canonical form, or `InvalidInput`."""


class OutsideNamespace(DavError):
    """A Destination (or If tag) that is not a URL of this WebDAV tree on this host (502)."""

    def __init__(self, reason: str) -> None:
        super().__init__(502, reason)


@dataclass(frozen=True)
class DavPath:
    """A location in the tree: the VFS path (`/a/b`) and whether the URL ended in `/`."""

    segments: tuple[str, ...]
    trailing_slash: bool = False

    @property
    def vfs_path(self) -> str:
        return "/" + "/".join(self.segments)

    @property
    def is_root(self) -> bool:
        return not self.segments

    @property
    def name(self) -> str:
        return self.segments[-1] if self.segments else ""

    @property
    def parent(self) -> DavPath:
        return DavPath(self.segments[:-1], True)

    def child(self, name: str) -> DavPath:
        return DavPath((*self.segments, name))

    def is_ancestor_of(self, other: DavPath) -> bool:
        return len(other.segments) > len(self.segments) and (
            other.segments[: len(self.segments)] == self.segments
        )

    def href(self, *, collection: bool) -> str:
        return href_for(self.segments, collection=collection)


@lru_cache(maxsize=4096)
def _quoted(segment: str) -> str:
    # A listing's entries share their parent's segments: each is quoted once.
    return quote(segment, safe="")


def href_for(segments: tuple[str, ...] | list[str], *, collection: bool) -> str:
    encoded = "/".join(map(_quoted, segments))
    if not encoded:
        return PREFIX + "/"
    return f"{PREFIX}/{encoded}/" if collection else f"{PREFIX}/{encoded}"


def parse_raw_path(raw: str, normalize: Normalize) -> DavPath:
    """`/dav/files/a%20b/c/` → DavPath(("a b", "c"), trailing_slash=True), or BadRequest."""
    if "#" in raw:
        raise BadRequest("a request URL may not carry a fragment")
    if raw == PREFIX:
        return DavPath((), True)
    if not raw.startswith(PREFIX + "/"):
        raise OutsideNamespace(f"{raw} is not under {PREFIX}/")
    rest = raw[len(PREFIX) + 1 :]
    segments: list[str] = []
    for raw_segment in rest.split("/"):
        if raw_segment == "":
            continue  # `a//b` and the trailing slash
        try:
            segment = unquote(raw_segment, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("the path is not valid UTF-8") from None
        if "/" in segment or "\\" in segment:
            raise BadRequest("encoded slashes and backslashes are not allowed in paths")
        if segment in (".", ".."):
            raise BadRequest("'.' and '..' are not allowed in paths")
        try:
            segments.append(normalize(segment))
        except InvalidInput as error:
            raise BadRequest(f"invalid path segment: {error.reason}") from None
    return DavPath(tuple(segments), rest.endswith("/") or rest == "")


def parse_destination(
    header: str, request_host: str, request_scheme: str, normalize: Normalize
) -> DavPath:
    """The Destination header as a path of this tree, or OutsideNamespace (502)."""
    header = header.strip()
    if not header:
        raise BadRequest("the Destination header is empty")
    parts = urlsplit(header)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https"):
            raise OutsideNamespace("the Destination must be an http(s) URL")
        if parts.netloc.lower() != request_host.lower():
            raise OutsideNamespace("the Destination is on another server")
    if parts.query:
        raise BadRequest("the Destination may not have a query")
    return parse_raw_path(parts.path, normalize)
