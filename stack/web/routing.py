"""The application's router: Starlette's, trying only the routes a path can match.

Starlette's `Router` tries each route's regular expression in order until one matches.
With some 150 routes and `/data` near the end of the table, that was about a seventh of
Roost's CPU on `GET /data/{doctype}/{id}` (py-spy, docs/benchmarks.md). A route's path
says which paths it can match at all: its number of segments (a `{param}` never spans a
`/`, except a `{param:path}`) and its literal segments (`data`, `_changes`). So the
routes are grouped by first segment and segment count, and each keeps its literal
segments; a path is tried only against the routes whose literal segments it has. Routes
whose shape is not fixed (an app origin's route, a `{param:path}`, a parameter inside the
first segment) are tried for every path. The routes tried keep their order, so the first
full match is the one Starlette would pick. Without a full match (a 405, a slash to
redirect, a 404), Starlette's own loop answers over the whole table, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette._utils import get_route_path
from starlette.convertors import PathConvertor, StringConvertor
from starlette.routing import BaseRoute, Match, Route, Router, WebSocketRoute
from starlette.types import Receive, Scope, Send

# Groups kept per (first segment, segment count) up to this count; deeper paths are
# grouped on each request (segment counts are the client's to choose).
MAX_INDEXED_SEGMENTS = 16


@dataclass(frozen=True)
class Shape:
    """The paths a route can match: `segments` parts once split on `/` (at least that many
    when `open`: a `{param:path}` spans segments), with `literals` (position, text) among
    them. The first segment is always a literal."""

    segments: int
    literals: tuple[tuple[int, str], ...]
    open: bool = False

    @property
    def first(self) -> str:
        return self.literals[1][1]

    def fits(self, first: str, segments: int) -> bool:
        if first != self.first:
            return False
        return segments >= self.segments if self.open else segments == self.segments

    def admits(self, parts: list[str]) -> bool:
        """Whether a path split in `parts`, of a group this shape `fits`, may match."""
        for i, text in self.literals[2:]:
            if parts[i] != text:
                return False
        return True


def shape_of(route: BaseRoute) -> Shape | None:
    """The shape of every path `route` can match, or None if it is not fixed."""
    if not isinstance(route, Route | WebSocketRoute) or not route.path.startswith("/"):
        return None
    convertors = route.param_convertors
    if not all(isinstance(c, StringConvertor | PathConvertor) for c in convertors.values()):
        return None  # other converters are not expected: no guess about them
    parts = route.path.split("/")
    if "{" in parts[1]:
        return None  # a parameter inside the first segment: `/{space}`, `/x{y}`
    spanning = [i for i, part in enumerate(parts) if ":path}" in part]
    if spanning:
        # Literals after a spanning parameter move with it: only those before it count.
        cut = spanning[0]
        literals = tuple((i, part) for i, part in enumerate(parts[:cut]) if "{" not in part)
        return Shape(cut + 1, literals, open=True)
    return Shape(len(parts), tuple((i, part) for i, part in enumerate(parts) if "{" not in part))


def first_segment(route: BaseRoute) -> str | None:
    """The first segment of every path `route` can match, or None if it is not fixed."""
    shape = shape_of(route)
    return None if shape is None else shape.first


_Candidates = list[tuple[BaseRoute, Shape | None]]


class IndexedRouter(Router):
    """A `Router` that tries, in order, only the routes whose shape fits the path."""

    def __init__(self, routes: Sequence[BaseRoute] | None = None, **options: Any) -> None:
        super().__init__(routes, **options)
        self._indexed_count = -1
        self._shaped: _Candidates = []
        self._firsts: set[str] = set()
        self._groups: dict[tuple[str, int], _Candidates] = {}
        self._anywhere: _Candidates = []

    def _group(self, first: str, segments: int) -> _Candidates:
        if self._indexed_count != len(self.routes):
            # (Re)built if routes were added after start; the table is read once otherwise.
            self._shaped = [(route, shape_of(route)) for route in self.routes]
            self._firsts = {shape.first for _, shape in self._shaped if shape is not None}
            self._anywhere = [(route, shape) for route, shape in self._shaped if shape is None]
            self._groups = {}
            self._indexed_count = len(self.routes)
        if first not in self._firsts:
            return self._anywhere
        group = self._groups.get((first, segments))
        if group is None:
            group = [
                (route, shape)
                for route, shape in self._shaped
                if shape is None or shape.fits(first, segments)
            ]
            if segments <= MAX_INDEXED_SEGMENTS:
                self._groups[(first, segments)] = group
        return group

    def candidates(self, route_path: str) -> list[BaseRoute]:
        """The routes that may match `route_path`, in the table's order."""
        parts = route_path.split("/")
        if len(parts) < 2 or parts[0]:
            return self.routes
        group = self._group(parts[1], len(parts))
        return [route for route, shape in group if shape is None or shape.admits(parts)]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope.setdefault("router", self)
            for route in self.candidates(get_route_path(scope)):
                match, child_scope = route.matches(scope)
                if match == Match.FULL:
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)
