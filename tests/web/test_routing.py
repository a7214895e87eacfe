"""`roost.web.routing.IndexedRouter` picks the route Starlette's own loop would pick."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Route

from roost.app import route_table
from roost.instances import Instance
from roost.web.routing import IndexedRouter, first_segment

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "MKCOL")


def _scope(path: str, method: str, kind: str = "http") -> dict[str, object]:
    return {
        "type": kind,
        "path": path,
        "root_path": "",
        "method": method,
        "headers": [(b"host", b"alice.localhost")],
        "query_string": b"",
    }


def _first_full(routes: list[BaseRoute], scope: dict[str, object]) -> BaseRoute | None:
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    return None


def _sample_paths(routes: list[BaseRoute]) -> list[str]:
    """Each route's path with its parameters filled in a few ways, and near misses."""
    paths = {"/", "", "//", "/data", "/data/", "/unknown/x", "/dav", "/dav/"}
    for route in routes:
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            continue
        for filler in ("x", "io.cozy.contacts", "_find", "a/b", "", "_local/a/b"):
            filled = re.sub(r"\{[^}]*\}", filler, path)
            paths |= {filled, filled + "/", filled.rstrip("/"), filled + "/more"}
    return sorted(paths)


def test_every_path_and_method_reaches_the_route_starlette_picks() -> None:
    routes = route_table()
    indexed = IndexedRouter(routes)
    compared = 0
    for path in _sample_paths(routes):
        for method in METHODS:
            scope = _scope(path, method)
            expected = _first_full(routes, scope)
            assert _first_full(indexed.candidates(path), scope) is expected, (path, method)
            compared += expected is not None
    assert compared > len(routes)  # most routes were reached by some sample


def test_routes_without_a_fixed_first_segment_are_tried_everywhere() -> None:
    routes = route_table()
    unfixed = [route for route in routes if first_segment(route) is None]
    assert unfixed  # the app origins' route, at least
    indexed = IndexedRouter(routes)
    for path in ("/data/x/y", "/nowhere", "/"):
        assert all(route in indexed.candidates(path) for route in unfixed)


def test_a_route_added_later_is_found() -> None:
    indexed = IndexedRouter(route_table())
    indexed.candidates("/status")  # the index is built
    late = Route("/late-addition/{x}", PlainTextResponse("late"))
    indexed.routes.append(late)
    scope = _scope("/late-addition/1", "GET")
    assert _first_full(indexed.candidates("/late-addition/1"), scope) is late


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/status", 200),
        ("PATCH", "/data/io.cozy.contacts/some-id", 405),  # a partial match, as before
        ("GET", "/no-such-space/at/all", 404),
    ],
)
async def test_the_app_answers_as_before(
    app: Starlette, instance: Instance, method: str, path: str, status: int
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{instance.domain}") as http:
        response = await http.request(method, path)
    assert response.status_code == status
