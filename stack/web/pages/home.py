"""`/`: Home — recent files, installed apps and connectors with their last run, notifications.

Also the spaces that come in the next issue (Banks, Collect, Store), which say so.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost.appstore.service import APPS_DOCTYPE, KONNECTORS_DOCTYPE
from roost.file_queries import FileQueries
from roost.notifications import NOTIFICATIONS_DOCTYPE
from roost.permissions import FILES_DOCTYPE
from roost.web.pages.shell import Owner, owner_or_login, render

# The spaces still to come (none now): each gets the "coming soon" page.
_SOON: dict[str, str] = {}


def file_queries(request: Request, owner: Owner) -> FileQueries:
    """One per app, so each files database's index is created once per process."""
    state = request.app.state
    if getattr(state, "file_queries", None) is None:
        state.file_queries = FileQueries(owner.services.couch, owner.services.vfs)
    queries: FileQueries = state.file_queries
    return queries


async def _recent_files(request: Request, owner: Owner) -> list[dict[str, Any]]:
    if not owner.may("GET", FILES_DOCTYPE):
        return []
    targets = owner.services.vfs.targets(owner.instance)
    shown = []
    for doc in await file_queries(request, owner).recent(owner.instance):
        if owner.may("GET", FILES_DOCTYPE, await targets.for_doc(doc)):
            shown.append(
                {
                    "id": doc.id,
                    "name": doc.name,
                    "dir_id": doc.dir_id,
                    "size": doc.size,
                    "updated_at": doc.updated_at,
                    "class": doc.class_,
                }
            )
    return shown


async def _apps(owner: Owner) -> list[dict[str, Any]]:
    services, instance = owner.services, owner.instance
    if not (owner.may("GET", APPS_DOCTYPE) and owner.may("GET", KONNECTORS_DOCTYPE)):
        return []
    installed = await services.apps.list_installed(instance)
    last_runs: dict[str, Any] = {}
    if installed:
        for job in await services.jobs.list_jobs(instance, worker="app", limit=1000):
            slug = job.message.get("slug")
            if not isinstance(slug, str):
                continue
            when = job.finished_at or job.started_at or job.queued_at
            previous = last_runs.get(slug)
            if previous is None or when > previous["when"]:
                last_runs[slug] = {"when": when, "state": job.state, "failed": bool(job.error)}
    # A connector's last run is told in plain words, a failure with a link to Collect.
    connector_runs = await services.apps.connector_runs.last_of_each(instance) if installed else {}
    for slug, run in connector_runs.items():
        last_runs[slug] = {
            "when": run.finished_at,
            "state": "done" if run.ok else "errored",
            "failed": not run.ok,
            "outcome": run.outcome,
        }
    return [
        {
            "slug": app.slug,
            "name": str(app.doc.get("name") or app.slug),
            "konnector": app.type == "konnector",
            "last_run": last_runs.get(app.slug),
        }
        for app in installed
    ]


async def _notifications(owner: Owner) -> list[dict[str, Any]]:
    if not owner.may("GET", NOTIFICATIONS_DOCTYPE):
        return []
    return [
        {
            "id": note.id,
            "title": note.title,
            "content": note.message,
            "at": note.created_at,
            "link": note.link,
            "unread": note.read_at is None,
        }
        for note in await owner.services.notifications.recent(owner.instance, 8)
    ]


async def home(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    # Banks categorises the operations importers bring: its trigger exists from the start.
    await owner.services.banks.ensure_trigger(owner.instance)
    context = {
        "recent": await _recent_files(request, owner),
        "apps": await _apps(owner),
        "notifications": await _notifications(owner),
    }
    return await render(request, owner, "home.html", context, space="home")


async def coming_soon(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    space = request.url.path.strip("/")
    return await render(request, owner, "soon.html", {"title": _SOON[space]}, space=space)


ROUTES = [
    Route("/", home, methods=["GET"]),
    *(Route(f"/{space}", coming_soon, methods=["GET"]) for space in _SOON),
]
