"""`/drive`, `/drive/{folder-id}`, `/drive/trash`, `/drive/search`: the Drive pages.

The handler renders the first page of a folder (sorted by name, date or size) on the server,
so a folder of 10,000 files opens with 100 rows and a "Show more" link, read a page at a time
from the store (`FileQueries.folder_page`); the page's script (`drive.js`) asks this same
route for the next rows (`?rows=1&after=<cursor>`) and does every
change through the `/files` JSON API, and listens to `/realtime/` for what other devices do.
Every entry shown is checked with the permission decision, like the API's listings.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.errors import BadRequest
from roost.file_queries import FolderCursor
from roost.permissions import FILES_DOCTYPE, ROOT_DIR_ID, TRASH_DIR_ID, Hidden
from roost.vfs import FileDoc, FileNotFound
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.home import file_queries
from roost.web.pages.shell import Owner, owner_or_login, render
from roost.web.templating import templates

PAGE_SIZE: Final = 100
SORTS: Final = ("name", "date", "size")
# What drive.js says, translated on the server and handed to it as JSON (English is the key).
JS_MESSAGES: Final = (
    "New folder",
    "Create",
    "Rename %(name)s",
    "Save",
    "Uploading %(name)s",
    "Cancel upload of %(name)s",
    "Uploaded",
    "Cancelled",
    "Failed",
    "Waiting",
    "Not enough space: your storage is full. Free some space or empty the trash, then try again.",
    "A file named %(name)s is already here.",
    "Upload of %(name)s failed.",
    "%(done)s of %(total)s files uploaded",
    "%(count)s selected",
    "Moved to the trash: %(name)s",
    "Restored: %(name)s",
    "Deleted forever: %(name)s",
    "Empty the trash? Everything in it will be deleted forever.",
    "Delete %(name)s forever?",
    "The trash is empty.",
    "Something went wrong. Please try again.",
    "That name is already taken here.",
    "A name cannot be empty or contain a slash.",
    "Folder",
    "Drive",
    "Move %(name)s",
    "Moved: %(name)s",
    "A folder cannot go inside itself.",
    "No older versions.",
    "Download",
    "Restore",
    "Version of %(date)s",
    "Restored the version of %(date)s",
    "No preview for this kind of file. You can download it.",
    "New here: %(name)s",
    "Actions for %(name)s",
    "Select %(name)s",
    "Renamed: %(name)s",
    "Folder created: %(name)s",
    "%(count)s items",
    "Current version",
    "Copy %(name)s",
    "Copied: %(name)s",
    "Copy here",
    "Move here",
)
VIEWS: Final = ("list", "grid")


def entry_view(doc: FileDoc) -> dict[str, Any]:
    return {
        "id": doc.id,
        "rev": doc.rev,
        "name": doc.name,
        "is_dir": doc.is_dir,
        "size": doc.size if doc.is_file else None,
        "updated_at": doc.updated_at,
        "mime": doc.mime if doc.is_file else "",
        "class": doc.class_ if doc.is_file else "directory",
        "dir_id": doc.dir_id,
    }


def _options(request: Request) -> dict[str, Any]:
    query = request.query_params
    sort = query.get("sort", "name")
    order = query.get("order", "desc" if sort in ("date", "size") else "asc")
    view = query.get("view", "list")
    if sort not in SORTS or order not in ("asc", "desc") or view not in VIEWS:
        raise BadRequest("sort is name, date or size; order asc or desc; view list or grid")
    after = None
    if "after" in query:
        after = FolderCursor.decode(query["after"])
        if after is None:
            raise BadRequest("after must be the cursor a previous page gave")
    return {"sort": sort, "order": order, "view": view, "after": after}


async def _breadcrumbs(owner: Owner, folder: FileDoc) -> list[dict[str, str]]:
    trail: list[dict[str, str]] = []
    current: FileDoc | None = folder
    while current is not None and not current.is_root:
        trail.append({"id": current.id, "name": current.name})
        if current.dir_id is None:
            break
        current = await owner.services.vfs.directory(owner.instance, current.dir_id)
    trail.reverse()
    return trail


async def _visible(owner: Owner, folder: FileDoc, entries: list[FileDoc]) -> list[FileDoc]:
    targets = owner.services.vfs.targets(owner.instance)
    return [
        e for e in entries if owner.may("GET", FILES_DOCTYPE, await targets.for_child(folder, e))
    ]


async def _folder(owner: Owner, folder_id: str) -> FileDoc:
    """The folder, or Hidden (404) when absent, not a folder, trashed or not readable."""
    vfs = owner.services.vfs
    doc = await vfs.get_or_none(owner.instance, folder_id)
    if doc is None or not doc.is_dir or (doc.in_trash and not doc.is_trash_dir):
        raise Hidden("GET", FILES_DOCTYPE)
    target = await vfs.targets(owner.instance).for_doc(doc)
    if not owner.may("GET", FILES_DOCTYPE, target):
        raise Hidden("GET", FILES_DOCTYPE)
    return doc


async def _page(request: Request, folder_id: str, *, trash: bool) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    options = _options(request)
    try:
        folder = await _folder(owner, folder_id)
    except (FileNotFound, Hidden):
        # A person gets a page, not JSON; the same page whether absent or not theirs.
        return await render(request, owner, "missing.html", {}, space="drive", status_code=404)
    # One page read from the store's folder view, never the whole listing.
    page = await file_queries(request, owner).folder_page(
        owner.instance,
        folder.id,
        sort=options["sort"],
        descending=options["order"] == "desc",
        limit=PAGE_SIZE,
        after=options["after"],
    )
    window = await _visible(owner, folder, page.entries)
    following = None
    if page.cursor is not None:
        following = urlencode(
            {
                "sort": options["sort"],
                "order": options["order"],
                "view": options["view"],
                "after": page.cursor.encode(),
            }
        )
    context: dict[str, Any] = {
        "folder": {"id": folder.id, "name": folder.name, "is_root": folder.is_root},
        "trash": trash,
        "entries": [entry_view(e) for e in window],
        "next_page": following,
        **options,
    }
    if request.query_params.get("rows") == "1":
        # The next rows only, for the script's "Show more" (same checks, same markup); the
        # page after them travels in a header, the rows being the whole body.
        headers = {"Cache-Control": "private, no-store"}
        if following is not None:
            headers["X-Next-Page"] = f"?{following}"
        return templates.TemplateResponse(request, "drive_rows.html", context, headers=headers)
    context["breadcrumbs"] = [] if trash else await _breadcrumbs(owner, folder)
    language = PageLanguage(language_of(request))
    context["messages"] = {message: language.gettext(message) for message in JS_MESSAGES}
    return await render(request, owner, "drive.html", context, space="drive")


async def drive_root(request: Request) -> Response:
    return await _page(request, ROOT_DIR_ID, trash=False)


async def drive_folder(request: Request) -> Response:
    folder_id = request.path_params["folder_id"]
    if folder_id == TRASH_DIR_ID:
        return await _page(request, TRASH_DIR_ID, trash=True)
    return await _page(request, folder_id, trash=False)


async def drive_trash(request: Request) -> Response:
    return await _page(request, TRASH_DIR_ID, trash=True)


async def drive_search(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    words = request.query_params.get("q", "").strip()[:200]
    results: list[dict[str, Any]] = []
    if words:
        vfs = owner.services.vfs
        targets = vfs.targets(owner.instance)
        for doc in await file_queries(request, owner).by_name(owner.instance, words):
            if owner.may("GET", FILES_DOCTYPE, await targets.for_doc(doc)):
                view = entry_view(doc)
                parent = await vfs.get_or_none(owner.instance, doc.dir_id) if doc.dir_id else None
                view["where"] = (parent.path if parent else "/") or "/"
                results.append(view)
    context = {"words": words, "results": results}
    return await render(request, owner, "drive_search.html", context, space="drive")


ROUTES = [
    Route("/drive", drive_root, methods=["GET"]),
    Route("/drive/trash", drive_trash, methods=["GET"]),
    Route("/drive/search", drive_search, methods=["GET"]),
    Route("/drive/{folder_id}", drive_folder, methods=["GET"]),
]
