"""`/photos`, `/photos/albums`, `/photos/albums/{id}`: the timeline and the albums.

The timeline holds every picture and video in the owner's files, newest first, grouped by
month and day from the date taken (`metadata.datetime`, which the thumbnails job writes;
`created_at` for videos and pictures without one). The server renders the first page; the
page's script (`photos.js`) asks the same route for the next ones
(`?items=1&after=<cursor>&limit=<n>`), for one new photo (`?items=1&file=<id>`, when
`/realtime/` says it arrived), opens the viewer, and changes albums through the `/albums`
JSON API. Every file shown is checked with the permission decision, like the `/files` API's
listings; albums are read through `roost.albums.Albums`, which asks it too.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final
from urllib.parse import quote, urlencode

from babel import Locale
from babel.dates import format_date, format_skeleton
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import BadRequest
from roost.file_queries import TimelineCursor, TimelinePage, timeline_date
from roost.permissions import FILES_DOCTYPE, Hidden
from roost.vfs import FileDoc
from roost.web.albums import album_json, albums_of
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.home import file_queries
from roost.web.pages.shell import Owner, owner_or_login, render
from roost.web.templating import templates

PAGE_SIZE: Final = 120
MAX_PAGE_SIZE: Final = 500
_PHOTO_CLASSES: Final = ("image", "video")
# What photos.js says, translated on the server and handed to it as JSON (English is the key).
JS_MESSAGES: Final = (
    "Photo %(index)s of %(total)s: %(name)s",
    "Video %(index)s of %(total)s: %(name)s",
    "Something went wrong. Please try again.",
    "%(count)s selected",
    "Added to %(name)s: %(count)s",
    "Removed from the album: %(count)s",
    "Album created: %(name)s",
    "An album with that name already exists.",
    "An album needs a name.",
    "Delete the album %(name)s? Its photos stay in your Drive and in the timeline.",
    "New here: %(name)s",
)


def _day(text: str) -> date | None:
    # The first ten characters are the day where the photo was taken (docs/api/thumbnails.md).
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _groups(items: list[tuple[str, FileDoc]], code: str) -> list[dict[str, Any]]:
    """Months holding days holding files, in the order given (newest first)."""
    locale = Locale.parse(code)
    months: list[dict[str, Any]] = []
    for taken, doc in items:
        day = _day(taken)
        day_key = day.isoformat() if day else "unknown"
        month_key = day_key[:7]
        if not months or months[-1]["key"] != month_key:
            label = format_skeleton("yMMMM", day, locale=locale) if day else "?"
            months.append({"key": month_key, "label": label, "days": []})
        days = months[-1]["days"]
        if not days or days[-1]["key"] != day_key:
            label = format_date(day, format="full", locale=locale) if day else "?"
            days.append({"key": day_key, "label": label, "files": []})
        days[-1]["files"].append(
            {"id": doc.id, "name": doc.name, "class": doc.class_, "mime": doc.mime, "at": taken}
        )
    return months


async def _visible(owner: Owner, items: list[tuple[str, FileDoc]]) -> list[tuple[str, FileDoc]]:
    targets = owner.services.vfs.targets(owner.instance)
    return [
        (taken, doc)
        for taken, doc in items
        if owner.may("GET", FILES_DOCTYPE, await targets.for_doc(doc))
    ]


def _paging(request: Request) -> tuple[int, TimelineCursor | None]:
    after = None
    if "after" in request.query_params:
        after = TimelineCursor.decode(request.query_params["after"])
        if after is None:
            raise BadRequest("after must be the cursor a previous page gave")
    try:
        limit = int(request.query_params.get("limit", PAGE_SIZE))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be a number from 1 to {MAX_PAGE_SIZE}")
    return limit, after


async def _one_file(owner: Owner, file_id: str) -> list[tuple[str, FileDoc]]:
    """The photo a realtime event named, as a one-item page (Hidden unless it is a readable
    picture or video out of the trash)."""
    vfs = owner.services.vfs
    doc = await vfs.get_or_none(owner.instance, file_id)
    if doc is None or not doc.is_file or doc.class_ not in _PHOTO_CLASSES or doc.in_trash:
        raise Hidden("GET", FILES_DOCTYPE)
    if not owner.may("GET", FILES_DOCTYPE, await vfs.targets(owner.instance).for_doc(doc)):
        raise Hidden("GET", FILES_DOCTYPE)
    return [(timeline_date(doc), doc)]


async def _photos_page(
    request: Request,
    owner: Owner,
    page: TimelinePage,
    limit: int,
    *,
    base: str,
    template: str,
    context: dict[str, Any],
) -> Response:
    language = PageLanguage(language_of(request))
    cursor = page.cursor.encode() if page.cursor else None
    following = urlencode({"after": cursor, "limit": limit}) if cursor else None
    context = {
        **context,
        "months": _groups(page.items, language.code),
        "next": following,
        "base": base,
    }
    if request.query_params.get("items") == "1":
        # The next page only, for the script's "Load more" (same checks, same markup).
        return templates.TemplateResponse(
            request, "photos_items.html", context, headers={"Cache-Control": "private, no-store"}
        )
    context["messages"] = {message: language.gettext(message) for message in JS_MESSAGES}
    return await render(request, owner, template, context, space="photos")


async def photos(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    limit, after = _paging(request)
    page = TimelinePage([], None)
    if owner.may("GET", FILES_DOCTYPE):
        if request.query_params.get("items") == "1" and "file" in request.query_params:
            page = TimelinePage(await _one_file(owner, request.query_params["file"]), None)
        else:
            page = await file_queries(request, owner).timeline(owner.instance, limit, after)
            page = TimelinePage(await _visible(owner, page.items), page.cursor)
    context: dict[str, Any] = {}
    if request.query_params.get("items") != "1":
        # The "Add to album" picker's choices (a page of items needs none).
        albums = await albums_of(request).every(owner.instance, owner.principal, sizes=False)
        context["albums"] = [album_json(album) for album in albums]
    return await _photos_page(
        request, owner, page, limit, base="/photos", template="photos.html", context=context
    )


async def album_list(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    albums = await albums_of(request).every(owner.instance, owner.principal)
    language = PageLanguage(language_of(request))
    context = {
        "albums": [album_json(album) for album in albums],
        "messages": {message: language.gettext(message) for message in JS_MESSAGES},
    }
    return await render(request, owner, "photos_albums.html", context, space="photos")


async def album_page(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    limit, after = _paging(request)
    album_id = request.path_params["album_id"]
    try:
        shown = await albums_of(request).photos(
            owner.instance, owner.principal, album_id, limit, after
        )
    except Hidden:
        # A person gets a page, not JSON; the same page whether absent or not theirs.
        return await render(request, owner, "missing.html", {}, space="photos", status_code=404)
    context = {"album": album_json(shown.album)}
    base = f"/photos/albums/{quote(album_id, safe='')}"
    return await _photos_page(
        request, owner, shown.page, limit, base=base, template="photos_album.html", context=context
    )


ROUTES = [
    Route("/photos", photos, methods=["GET"]),
    Route("/photos/albums", album_list, methods=["GET"]),
    Route("/photos/albums/{album_id}", album_page, methods=["GET"]),
]
