"""`/photos`: the timeline of every picture and video in the owner's files.

Newest first, grouped by month and day from the date taken (`metadata.datetime`, which the
thumbnails job writes; `created_at` for videos and pictures without one). The server renders
the first page; the page's script (`photos.js`) asks this same route for the next ones
(`?items=1&after=<cursor>&limit=<n>`) and opens the viewer. Every file shown is checked with the
permission decision, like the `/files` API's listings.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date, format_skeleton
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import BadRequest
from roost.file_queries import TimelineCursor
from roost.permissions import FILES_DOCTYPE
from roost.vfs import FileDoc
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.home import file_queries
from roost.web.pages.shell import Owner, owner_or_login, render
from roost.web.templating import templates

PAGE_SIZE: Final = 120
MAX_PAGE_SIZE: Final = 500
# What photos.js says, translated on the server and handed to it as JSON (English is the key).
JS_MESSAGES: Final = (
    "Photo %(index)s of %(total)s: %(name)s",
    "Video %(index)s of %(total)s: %(name)s",
    "Something went wrong. Please try again.",
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


async def photos(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
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
    language = PageLanguage(language_of(request))
    months: list[dict[str, Any]] = []
    cursor = None
    if owner.may("GET", FILES_DOCTYPE):
        page = await file_queries(request, owner).timeline(owner.instance, limit, after)
        months = _groups(await _visible(owner, page.items), language.code)
        cursor = page.cursor.encode() if page.cursor else None
    following = urlencode({"after": cursor, "limit": limit}) if cursor else None
    context: dict[str, Any] = {"months": months, "next": following}
    if request.query_params.get("items") == "1":
        # The next page only, for the script's "Load more" (same checks, same markup).
        return templates.TemplateResponse(
            request, "photos_items.html", context, headers={"Cache-Control": "private, no-store"}
        )
    context["messages"] = {message: language.gettext(message) for message in JS_MESSAGES}
    return await render(request, owner, "photos.html", context, space="photos")


ROUTES = [Route("/photos", photos, methods=["GET"])]
