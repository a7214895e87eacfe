"""`/s/{code}…`: the public pages of a share link, for anyone holding it, with no account.

Every access opens the link (404 page for an unknown code, 410 page for a revoked or
expired one), is logged under the link's own name (`share-link:{id}`, through the access
log middleware), asks for the password when the link has one (a cookie bound to this link
only, limited to its path), then asks `roost.permissions.decide` with the **link's**
permission set, never the owner's: a file outside what is shared answers the same 404 page
as a missing one. A drop link holds POST only, so no page of it can list its folder.

- `/s/{code}`: the shared file (preview, download), folder (listing), album (thumbnails) or
  the drop page;
- `/s/{code}/folder/{id}`, `/s/{code}/view/{id}`: a sub-folder, a file of a folder or album;
- `/s/{code}/raw/{id}` (Range, `?Dl=1` to download), `/s/{code}/thumbnails/{id}/{size}`,
  `/s/{code}/zip/{id}`: bytes;
- `POST /s/{code}/password` (form), `POST /s/{code}/upload?Name=` (drop, raw body).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from roost.archives import FileArchive
from roost.errors import BadRequest
from roost.permissions import Hidden
from roost.principals import Principal
from roost.services import Services
from roost.sharing import (
    ALBUMS_DOCTYPE,
    LinkGone,
    LinkUnknown,
    ShareLinks,
    TooManyPasswordAttempts,
)
from roost.sharing.visits import LinkVisit
from roost.thumbnails import SIZES
from roost.vfs import FileDoc, IncompleteUpload, normalize_name
from roost.web.context import instance_of, services_of
from roost.web.files_content import serve
from roost.web.files_params import content_type, declared_size
from roost.web.forms import read_form
from roost.web.i18n import language_of
from roost.web.pages.drive import entry_view
from roost.web.share_links import share_links_of
from roost.web.templating import templates

PREVIEWABLE: Final = ("image", "pdf", "text", "audio", "video")
MAX_LISTED: Final = 2000
# As Drive's preview: enough to read, never a huge file in the page.
TEXT_PREVIEW_BYTES: Final = 256 * 1024
MAX_NAME_ATTEMPTS: Final = 100
_HEADERS: Final = {
    "Cache-Control": "private, no-store",
    "X-Frame-Options": "SAMEORIGIN",
    # The code is the key: never hand it to another site in a Referer.
    "Referrer-Policy": "no-referrer",
}


# One name for every link: each cookie is limited to its own link's path (`/s/{code}`), and
# its value is bound to that link and its password (see `ShareLinks.password_proof`).
PASSWORD_COOKIE: Final = "roost_share"  # noqa: S105 - a cookie name, not a secret


def page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    full = {"domain": instance_of(request).domain, **context}
    response = templates.TemplateResponse(
        request, template, full, status_code=status_code, headers=dict(_HEADERS)
    )
    response.headers["Content-Language"] = language_of(request)
    return response


def unknown(request: Request) -> Response:
    return page(request, "shared_missing.html", {}, 404)


def gone(request: Request) -> Response:
    return page(request, "shared_gone.html", {}, 410)


@dataclass
class Visit(LinkVisit):
    """One request through an open link, with what its pages need beside the link's view."""

    services: Services
    code: str

    @property
    def base(self) -> str:
        return f"/s/{self.code}"


async def _visit(request: Request) -> Visit | Response:
    """The link behind the URL, its password not checked yet; else the page to answer with."""
    services, instance = services_of(request), instance_of(request)
    now = datetime.now(UTC)
    try:
        link = await share_links_of(services).open(instance, request.path_params["code"], now)
    except LinkGone:
        return gone(request)
    except LinkUnknown:
        return unknown(request)
    # The access log middleware writes one entry for this request under the link's name.
    request.scope.setdefault("state", {})["principal"] = Principal(
        kind="share-link", permissions=link.permissions, subject=link.id, permission_id=link.id
    )
    return Visit(
        services.vfs, services.documents, instance, link, now, services, request.path_params["code"]
    )


async def _open(request: Request) -> Visit | Response:
    """The link behind the URL, ready to use; else the page to answer with."""
    visit = await _visit(request)
    if isinstance(visit, Response):
        return visit
    links = share_links_of(visit.services)
    await links.record_use(visit.instance, visit.link, visit.now)
    if not links.has_proof(visit.instance, visit.link, request.cookies.get(PASSWORD_COOKIE)):
        return _password_page(request, visit, error=None, status_code=401)
    return visit


async def _open_item(request: Request, *, folder: bool) -> tuple[Visit, FileDoc] | Response:
    """The link and the file `{file_id}` (or folder `{folder_id}`) it may read; else the
    page to answer with."""
    visit = await _open(request)
    if isinstance(visit, Response):
        return visit
    if folder:
        doc = await visit.readable_folder(request.path_params["folder_id"])
    else:
        doc = await visit.readable_file(request.path_params["file_id"])
    return unknown(request) if doc is None else (visit, doc)


def _password_page(
    request: Request, visit: Visit, *, error: str | None, status_code: int
) -> Response:
    context = {"base": visit.base, "error": error}
    return page(request, "shared_password.html", context, status_code)


def _entry(doc: FileDoc) -> dict[str, Any]:
    view = entry_view(doc)
    view["thumbnail"] = doc.is_file and doc.class_ in ("image", "video")
    return view


async def _folder_page(request: Request, visit: Visit, folder: FileDoc) -> Response:
    shown = await visit.listing(folder, MAX_LISTED)
    trail = [{"id": d.id, "name": d.name} for d in await visit.trail(folder)]
    context = {
        "base": visit.base,
        "folder": {"id": folder.id, "name": folder.name},
        "root_id": visit.link.item.id,
        "trail": trail,
        "entries": [_entry(d) for d in shown],
    }
    return page(request, "shared_folder.html", context)


async def _file_context(visit: Visit, doc: FileDoc, back: str | None) -> dict[str, Any]:
    kind = doc.class_ if doc.class_ in PREVIEWABLE else None
    if doc.mime == "application/pdf":
        kind = "pdf"
    # The start of a text file shows in the page itself (never a huge file whole).
    text = await visit.text_head(doc, TEXT_PREVIEW_BYTES) if kind == "text" else None
    return {
        "base": visit.base,
        "file": entry_view(doc),
        "preview": kind,
        "text": text,
        "cut": text is not None and doc.size > TEXT_PREVIEW_BYTES,
        "raw": f"{visit.base}/raw/{quote(doc.id, safe='')}",
        "back": back,
    }


async def shared(request: Request) -> Response:
    """`GET /s/{code}`: what the link shares."""
    visit = await _open(request)
    if isinstance(visit, Response):
        return visit
    item = visit.link.item
    if visit.link.kind == "drop":
        folder = await visit.drop_folder()
        if folder is None or not await visit.may_drop(folder):
            return gone(request)
        context = {"base": visit.base, "folder_name": folder.name}
        return page(request, "shared_drop.html", context)
    if item.doctype == ALBUMS_DOCTYPE:
        return await _album_page(request, visit)
    found = await visit.readable(item.id)
    if found is None:
        return gone(request)  # the shared file or folder was deleted since
    doc, _ = found
    if doc.is_dir:
        return await _folder_page(request, visit, doc)
    return page(request, "shared_file.html", await _file_context(visit, doc, None))


async def _album_page(request: Request, visit: Visit) -> Response:
    album = await visit.album()
    if album is None:
        return gone(request)
    photos = [_entry(doc) for doc in await visit.album_photos()]
    photos.sort(key=lambda p: (str(p["updated_at"]), p["name"]))
    name = album.get("name") if isinstance(album.get("name"), str) else ""
    context = {"base": visit.base, "album_name": name, "photos": photos}
    return page(request, "shared_album.html", context)


async def shared_folder(request: Request) -> Response:
    """`GET /s/{code}/folder/{folder_id}`: a folder inside a shared folder."""
    opened = await _open_item(request, folder=True)
    if isinstance(opened, Response):
        return opened
    visit, folder = opened
    return await _folder_page(request, visit, folder)


async def shared_view(request: Request) -> Response:
    """`GET /s/{code}/view/{file_id}`: one file of a shared folder or album."""
    opened = await _open_item(request, folder=False)
    if isinstance(opened, Response):
        return opened
    visit, doc = opened
    if visit.link.item.doctype == ALBUMS_DOCTYPE:
        back = visit.base
    else:
        back = f"{visit.base}/folder/{quote(doc.dir_id or '', safe='')}"
        if doc.dir_id == visit.link.item.id:
            back = visit.base
    return page(request, "shared_file.html", await _file_context(visit, doc, back))


async def shared_raw(request: Request) -> Response:
    """`GET /s/{code}/raw/{file_id}`: the bytes (Range; `?Dl=1` to save them)."""
    opened = await _open_item(request, folder=False)
    if isinstance(opened, Response):
        return opened
    visit, doc = opened
    content = await visit.vfs.open(visit.instance, doc)
    response = await serve(request, doc, content, content.mime)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


async def shared_thumbnail(request: Request) -> Response:
    """`GET /s/{code}/thumbnails/{file_id}/{size}`: a picture's or a video's thumbnail."""
    opened = await _open_item(request, folder=False)
    if isinstance(opened, Response):
        return opened
    visit, doc = opened
    size = SIZES.get(request.path_params["size"])
    if size is None:
        return unknown(request)
    thumbnail = await visit.services.thumbnails.thumbnail(visit.instance, doc, size)
    headers = {"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(thumbnail.body, media_type=thumbnail.media_type, headers=headers)


async def shared_zip(request: Request) -> Response:
    """`GET /s/{code}/zip/{folder_id}`: a shared folder (or one inside it) as a zip."""
    opened = await _open_item(request, folder=True)
    if isinstance(opened, Response):
        return opened
    visit, folder = opened
    archive = FileArchive(visit.vfs, visit.instance, visit.link.permissions, visit.now)
    try:
        entries = await archive.prepare([folder.id])
    except Hidden:
        return unknown(request)
    name = f"{folder.name}.zip"
    return StreamingResponse(
        archive.stream(entries),
        media_type="application/zip",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


async def shared_password(request: Request) -> Response:
    """`POST /s/{code}/password`: the password form; the right one sets this link's cookie."""
    visit = await _visit(request)
    if isinstance(visit, Response):
        return visit
    instance, link, links = visit.instance, visit.link, share_links_of(visit.services)
    fields = await read_form(request)
    try:
        right = await links.check_password(instance, link, fields.get("password", ""))
    except TooManyPasswordAttempts as error:
        response = _password_page(request, visit, error="locked", status_code=429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    if not right:
        return _password_page(request, visit, error="wrong", status_code=401)
    response = RedirectResponse(visit.base, status_code=303)
    response.set_cookie(
        PASSWORD_COOKIE,
        ShareLinks.password_proof(instance, link),
        path=visit.base,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        expires=link.expires_at and _http_date(link.expires_at),
    )
    return response


def _http_date(iso: str) -> str:
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(iso).astimezone(UTC), usegmt=True)


def _json_refusal(status: int, error: str, reason: str) -> Response:
    return JSONResponse({"error": error, "reason": reason}, status_code=status)


async def shared_upload(request: Request) -> Response:
    """`POST /s/{code}/upload?Name=…`: one file into a drop link's folder (raw body).

    A name already taken gets a new one (`name (2).ext`), never overwrites; the answer
    says nothing of the folder (not even the name chosen).
    """
    visit = await _open(request)
    if isinstance(visit, Response):
        if visit.status_code == 401:
            return _json_refusal(401, "unauthorized", "the password of this link is needed")
        error = "gone" if visit.status_code == 410 else "not_found"
        return _json_refusal(visit.status_code, error, "this link does not work")
    if visit.link.kind != "drop":
        return _json_refusal(403, "forbidden", "this link does not take files")
    vfs, instance = visit.vfs, visit.instance
    folder = await visit.drop_folder()
    if folder is None:
        return _json_refusal(410, "gone", "the folder of this link is gone")
    raw_name = request.query_params.get("Name")
    if not raw_name:
        raise BadRequest("Name is required")
    name = normalize_name(raw_name)
    mime = content_type(request)
    if not await visit.may_drop_file(folder, name, mime):
        return _json_refusal(403, "forbidden", "this link does not take files")
    try:
        staged = await vfs.stage(instance, request.stream(), size=declared_size(request))
    except ClientDisconnect:
        raise IncompleteUpload("the client went away before the end of the body") from None
    async with staged as content:
        doc = await visit.drop_file(folder, name, content, mime, MAX_NAME_ATTEMPTS)
    if doc is not None:
        return JSONResponse({"uploaded": True, "size": doc.size}, status_code=201)
    return _json_refusal(409, "name_conflict", "too many files of that name here already")


ROUTES = [
    Route("/s/{code}", shared, methods=["GET"]),
    Route("/s/{code}/password", shared_password, methods=["POST"]),
    Route("/s/{code}/upload", shared_upload, methods=["POST"]),
    Route("/s/{code}/folder/{folder_id}", shared_folder, methods=["GET"]),
    Route("/s/{code}/view/{file_id}", shared_view, methods=["GET"]),
    Route("/s/{code}/raw/{file_id}", shared_raw, methods=["GET", "HEAD"]),
    Route("/s/{code}/thumbnails/{file_id}/{size}", shared_thumbnail, methods=["GET"]),
    Route("/s/{code}/zip/{folder_id}", shared_zip, methods=["GET"]),
]
