"""The application's router: Starlette's, trying only the routes a path can match.

Starlette's `Router` tries each route's regular expression in order until one matches.
With some 150 routes and `/data` near the end of the table, that was about a seventh of
Roost's CPU on `GET /data/{doctype}/{id}` (py-spy, docs/benchmarks.md). A route whose
path starts with a literal first segment (`/data/…`, `/status`) can only match paths with
that first segment, so the routes are indexed by it; the others (an app origin's route,
a `/{param}…` path) are tried for every path. The routes tried keep their order, so the
first full match is the one Starlette would pick. Without a full match (a 405, a slash to
redirect, a 404), Starlette's own loop answers over the whole table, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Router
from starlette.types import Receive, Scope, Send


def first_segment(route: BaseRoute) -> str | None:
    """The first segment of every path `route` can match, or None if it is not fixed."""
    path = getattr(route, "path", None)
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    literal = path.split("{", 1)[0]
    end = literal.find("/", 1)
    if end != -1:
        return literal[1:end]
    if "{" in path:
        return None  # a parameter inside the first segment: `/{space}`, `/x{y}`
    return literal[1:]


class IndexedRouter(Router):
    """A `Router` that tries, in order, only the routes whose first segment fits the path."""

    def __init__(self, routes: Sequence[BaseRoute] | None = None, **options: Any) -> None:
        super().__init__(routes, **options)
        self._indexed: tuple[int, dict[str, list[BaseRoute]], list[BaseRoute]] | None = None

    def _index(self) -> tuple[dict[str, list[BaseRoute]], list[BaseRoute]]:
        # Rebuilt if routes were added after start (the table is read once otherwise).
        if self._indexed is None or self._indexed[0] != len(self.routes):
            segments = {first_segment(route) for route in self.routes} - {None}
            by_segment = {
                segment: [r for r in self.routes if first_segment(r) in (segment, None)]
                for segment in segments
                if segment is not None
            }
            anywhere = [route for route in self.routes if first_segment(route) is None]
            self._indexed = (len(self.routes), by_segment, anywhere)
        return self._indexed[1], self._indexed[2]

    def candidates(self, route_path: str) -> list[BaseRoute]:
        """The routes that may match `route_path`, in the table's order."""
        by_segment, anywhere = self._index()
        if not route_path.startswith("/"):
            return self.routes
        return by_segment.get(route_path[1:].split("/", 1)[0], anywhere)

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
