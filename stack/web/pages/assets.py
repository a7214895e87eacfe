"""The pages' static files (CSS, ES modules), served under content-hashed names.

Each file of `stack/web/static/` is hashed once, when the module is first used, and served as
`/static/{stem}.{hash}{suffix}` with a year-long immutable cache: a new release changes the
name, so a browser never runs yesterday's script against today's page. Templates ask for a
file by its plain name with `asset("drive.js")`; ES modules import each other by bare names
(`roost/ui.js`) resolved by the import map `import_map()` writes into every page.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import NotFound

STATIC_DIR: Final = Path(__file__).parent.parent / "static"
PREFIX: Final = "/static/"
_IMMUTABLE: Final = "public, max-age=31536000, immutable"
_TYPES: Final = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class StaticFile:
    name: str  # the plain name, `drive.js`
    served_as: str  # the hashed name, `drive.3f9a2c41d0.js`
    body: bytes
    media_type: str


@dataclass(frozen=True)
class StaticFiles:
    by_name: dict[str, StaticFile]
    by_served_name: dict[str, StaticFile]

    def url(self, name: str) -> str:
        found = self.by_name.get(name)
        if found is None:
            raise KeyError(f"no static file {name!r} in {STATIC_DIR}")
        return PREFIX + found.served_as


@cache
def static_files() -> StaticFiles:
    by_name: dict[str, StaticFile] = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:12]
        served_as = f"{path.stem}.{digest}{path.suffix}"
        media_type = _TYPES.get(path.suffix) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        by_name[path.name] = StaticFile(path.name, served_as, body, media_type)
    return StaticFiles(by_name, {f.served_as: f for f in by_name.values()})


def asset(name: str) -> str:
    """The URL of a static file, by its plain name (for templates)."""
    return static_files().url(name)


def import_map() -> str:
    """`{"imports": {"roost/ui.js": "/static/ui.….js", …}}` for every ES module."""
    files = static_files()
    modules = {f"roost/{n}": files.url(n) for n in files.by_name if n.endswith(".js")}
    # `</` cannot appear inside the inline script that carries the map.
    return json.dumps({"imports": modules}).replace("</", "<\\/")


async def serve(request: Request) -> Response:
    found = static_files().by_served_name.get(request.path_params["name"])
    if found is None:
        raise NotFound("no such static file (its name changes with its content)")
    return Response(
        found.body,
        media_type=found.media_type,
        headers={"Cache-Control": _IMMUTABLE, "X-Content-Type-Options": "nosniff"},
    )


ROUTES = [Route("/static/{name}", serve, methods=["GET", "HEAD"])]
