"""The request/response examples of docs/api/*.md, read as data (no HTTP here).

The convention they follow is written at the top of docs/api/README.md; in short:

- a fenced `http` block whose first line is a request line (`POST /data/x/ HTTP/1.1`) is a
  request: header lines, a blank line, the body;
- the first fenced block after it is its answer: an `http` block (`HTTP/1.1 201 Created`,
  headers, blank line, body — optionally followed at once by a `json` block holding the
  body) or a `json` block starting with the status (`200 {"ok":true}`);
- `<!-- example: skip|known-difference|last|unordered (why) -->` just before a request
  marks it;
- `<!-- examples: instance alice.example.org; token <scope> -->` anywhere on a page says
  what its examples run as.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_REQUEST_LINE = re.compile(rf"^({'|'.join(METHODS)}) (\S+)(?: HTTP/1\.1)?$")
_STATUS_LINE = re.compile(r"^HTTP/1\.1 (\d{3})(?: .*)?$")
_JSON_STATUS = re.compile(r"^(\d{3})(?:\s+(.*))?$", re.DOTALL)
_ANSWER_STATUS = re.compile(r"<!--\s*answer:\s*(\d{3})\s*-->")
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(
    r"<!--\s*example:\s*(skip|known-difference|last|unordered)\s*\((.+?)\)\s*-->", re.DOTALL
)
_SETUP = re.compile(r"<!--\s*examples:\s*(.+?)\s*-->", re.DOTALL)

Headers = list[tuple[str, str]]


class ExampleFormatError(ValueError):
    """A page breaks the convention (the message names the page and line)."""


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: Headers
    body: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers
    body: str


@dataclass(frozen=True)
class Example:
    page: str
    line: int
    heading: str
    request: Request
    answer: Answer | None
    marker: str | None = None  # "skip", "known-difference", "last" or "unordered"
    reason: str = ""
    # A `websocket` block: frames sent (">") and received ("<") on the page's socket.
    frames: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.page}:{self.line} {self.request.method} {self.request.target}"


def _socket_frames(block: _Block, where: str) -> tuple[Request, tuple[tuple[str, str], ...]]:
    """`GET /realtime/` (optional first line), then `> {sent}` and `< {received}` frames; a
    line starting with neither continues the frame above."""
    lines = block.text.strip("\n").split("\n")
    target = "/realtime/"
    if _REQUEST_LINE.match(lines[0]):
        target = lines.pop(0).split()[1]
    frames: list[list[str]] = []
    for line in lines:
        if line[:2] in ("> ", "< "):
            frames.append([line[0], line[2:]])
        elif frames:
            frames[-1][1] += "\n" + line
        elif line.strip():
            raise ExampleFormatError(f"{where}: a websocket frame starts with '> ' or '< '")
    return Request("WEBSOCKET", target, [], ""), tuple((d, t) for d, t in frames)


@dataclass(frozen=True)
class PageSetup:
    """What a page's examples run as: `instance <domain>`, `token <inline scope>`, `https`."""

    instance: str = "alice.example.org"
    token_scope: str | None = None
    https: bool = False  # served behind a TLS proxy (requests carry X-Forwarded-Proto)
    declared: bool = True  # False: the page has no `<!-- examples: … -->` comment


@dataclass
class Page:
    name: str
    setup: PageSetup
    examples: list[Example] = field(default_factory=list)


@dataclass(frozen=True)
class _Block:
    lang: str
    text: str
    line: int  # of the opening fence, 1-based
    before: str  # the markdown between the previous block and this one


def _blocks(markdown: str) -> list[_Block]:
    blocks: list[_Block] = []
    lines = markdown.split("\n")
    prose: list[str] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            prose.append(lines[index])
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            body.append(lines[index])
            index += 1
        index += 1  # the closing fence
        blocks.append(_Block(fence.group(1), "\n".join(body), start + 1, "\n".join(prose)))
        prose = []
    return blocks


def _split_head(text: str) -> tuple[list[str], str]:
    """Lines up to the first blank line, and the rest (the body) as written."""
    head, _, body = text.partition("\n\n")
    return head.split("\n"), body.strip("\n")


def _header(line: str, where: str) -> tuple[str, str]:
    name, colon, value = line.partition(":")
    if not colon or not name or " " in name:
        raise ExampleFormatError(f"{where}: not a header line: {line!r}")
    return name.strip(), value.strip()


def _request(block: _Block, where: str) -> Request | None:
    if block.lang != "http":
        return None
    head, body = _split_head(block.text.strip("\n"))
    found = _REQUEST_LINE.match(head[0])
    if found is None:
        return None
    headers = [_header(line, where) for line in head[1:]]
    return Request(found.group(1), found.group(2), headers, body)


def _answer(blocks: list[_Block], at: int, where: str) -> tuple[Answer, int]:
    """The answer starting at blocks[at], and how many blocks it took."""
    block = blocks[at]
    text = block.text.strip("\n")
    if block.lang == "http":
        head, body = _split_head(text)
        found = _STATUS_LINE.match(head[0])
        if found is None:
            raise ExampleFormatError(f"{where}: an http answer starts with 'HTTP/1.1 <status>'")
        headers = [_header(line, where) for line in head[1:]]
        follower = blocks[at + 1] if at + 1 < len(blocks) else None
        if not body and follower and follower.lang == "json" and not follower.before.strip():
            return Answer(int(found.group(1)), headers, follower.text.strip("\n")), 2
        return Answer(int(found.group(1)), headers, body), 1
    if block.lang == "json":
        given = _ANSWER_STATUS.search(block.before)
        if given is not None:
            return Answer(int(given.group(1)), [], text), 1
        found = _JSON_STATUS.match(text)
        if found is None:
            raise ExampleFormatError(f"{where}: a json answer starts with its status (200 {{…}})")
        return Answer(int(found.group(1)), [], (found.group(2) or "").strip("\n")), 1
    raise ExampleFormatError(f"{where}: the block after a request must be its answer")


def _marker(prose: str) -> tuple[str | None, str]:
    found = list(_MARKER.finditer(prose))
    if not found:
        return None, ""
    return found[-1].group(1), " ".join(found[-1].group(2).split())


def _setup(markdown: str, page: str) -> PageSetup:
    found = _SETUP.search(markdown)
    if found is None:
        return PageSetup(declared=False)
    values: dict[str, str] = {}
    for part in found.group(1).split(";"):
        key, _, value = part.strip().partition(" ")
        if key not in ("instance", "token", "https"):
            raise ExampleFormatError(f"{page}: unknown examples setting {key!r}")
        values[key] = value.strip()
    return PageSetup(
        instance=values.get("instance", "alice.example.org"),
        token_scope=values.get("token"),
        https="https" in values,
    )


def parse_page(path: Path) -> Page:
    markdown = path.read_text(encoding="utf-8")
    page = Page(path.name, _setup(markdown, path.name))
    blocks = _blocks(markdown)
    heading = ""
    at = 0
    while at < len(blocks):
        block = blocks[at]
        for line in block.before.split("\n"):
            if line.startswith("#"):
                heading = line.lstrip("#").strip()
        where = f"{path.name}:{block.line}"
        if block.lang == "websocket":
            opening, frames = _socket_frames(block, where)
            marker, reason = _marker(block.before)
            page.examples.append(
                Example(path.name, block.line, heading, opening, None, marker, reason, frames)
            )
            at += 1
            continue
        request = _request(block, where)
        if request is None:
            at += 1
            continue
        marker, reason = _marker(block.before)
        answer: Answer | None = None
        at += 1
        if at < len(blocks) and _request(blocks[at], where) is None:
            try:
                answer, used = _answer(blocks, at, f"{path.name}:{blocks[at].line}")
                at += used
            except ExampleFormatError:
                if marker != "skip":  # a skipped request may be answered in prose
                    raise
        elif marker != "skip":
            raise ExampleFormatError(f"{where}: a request without its answer")
        page.examples.append(
            Example(path.name, block.line, heading, request, answer, marker, reason)
        )
    return page


def parse_pages(folder: Path) -> list[Page]:
    return [parse_page(path) for path in sorted(folder.glob("*.md")) if path.name != "README.md"]
