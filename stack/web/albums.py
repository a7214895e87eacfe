"""`/albums`: the photo albums' JSON API (docs/api/albums.md), for the Photos page and any
client. Thin: parse, call `roost.albums.Albums` (which asks the permission decision), answer.

Albums are `io.cozy.photos.albums` documents, so `/data/io.cozy.photos.albums` and the
references routes reach them too; these routes add the album rules (names, photos only, a
deletion that unlinks every photo first).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from roost.albums import Album, Albums
from roost.errors import BadRequest
from roost.file_queries import FileQueries
from roost.web.context import instance_of, principal_of, read_json, services_of


def albums_of(request: Request) -> Albums:
    """The albums service over the app's one FileQueries (its design document is put once
    per database and process)."""
    services = services_of(request)
    state = request.app.state
    if getattr(state, "file_queries", None) is None:
        state.file_queries = FileQueries(services.couch, services.vfs)
    return Albums(services.documents, services.vfs, state.file_queries)


def album_json(album: Album) -> dict[str, Any]:
    return {
        "id": album.id,
        "rev": album.rev,
        "name": album.name,
        "created_at": album.created_at,
        "size": album.size,
        "cover": album.cover,
    }


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def _file_ids(request: Request) -> list[str]:
    ids = (await _body(request)).get("ids")
    if not isinstance(ids, list):
        raise BadRequest('the body must be {"ids": ["<file id>", …]}')
    return ids


async def list_albums(request: Request) -> Response:
    principal = await principal_of(request)
    albums = await albums_of(request).every(instance_of(request), principal)
    return JSONResponse({"data": [album_json(album) for album in albums]})


async def create_album(request: Request) -> Response:
    principal = await principal_of(request)
    name = (await _body(request)).get("name")
    album = await albums_of(request).create(instance_of(request), principal, name)
    return JSONResponse(album_json(album), status_code=201)


async def rename_album(request: Request) -> Response:
    principal = await principal_of(request)
    name = (await _body(request)).get("name")
    album_id = request.path_params["album_id"]
    album = await albums_of(request).rename(instance_of(request), principal, album_id, name)
    return JSONResponse(album_json(album))


async def delete_album(request: Request) -> Response:
    principal = await principal_of(request)
    album_id = request.path_params["album_id"]
    unlinked = await albums_of(request).delete(instance_of(request), principal, album_id)
    return JSONResponse({"unlinked": unlinked})


async def add_photos(request: Request) -> Response:
    principal = await principal_of(request)
    ids = await _file_ids(request)
    album_id = request.path_params["album_id"]
    added = await albums_of(request).add(instance_of(request), principal, album_id, ids)
    return JSONResponse({"added": added})


async def remove_photos(request: Request) -> Response:
    principal = await principal_of(request)
    ids = await _file_ids(request)
    album_id = request.path_params["album_id"]
    removed = await albums_of(request).remove(instance_of(request), principal, album_id, ids)
    return JSONResponse({"removed": removed})


ROUTES: list[BaseRoute] = [
    Route("/albums", list_albums, methods=["GET"]),
    Route("/albums", create_album, methods=["POST"]),
    Route("/albums/{album_id}", rename_album, methods=["PATCH"]),
    Route("/albums/{album_id}", delete_album, methods=["DELETE"]),
    Route("/albums/{album_id}/photos", add_photos, methods=["POST"]),
    Route("/albums/{album_id}/photos", remove_photos, methods=["DELETE"]),
]
