"""The composition root: `create_app(config)` wires routes, middleware, services, lifespan.

This is the only place that knows every router. Each `roost.web.*` module ends with a
`ROUTES` list; order matters where paths overlap (replication before the generic
`/data/{doctype}/{docid}`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from roost.appstore import on_startup as apps_on_startup
from roost.appstore.catalogue import catalogue_for
from roost.config import Config
from roost.dav import dav_server as build_dav_server
from roost.services import Services
from roost.shared_disk import warn_about_separate_disks
from roost.web import (
    access,
    app_origins,
    apps,
    archives,
    auth,
    data,
    dav,
    file_copies,
    files,
    jobs,
    oauth,
    realtime,
    replication,
    settings,
    share_links,
    status,
    thumbnails,
)
from roost.web import albums as albums_api
from roost.web.access import AccessLogMiddleware
from roost.web.errors import EXCEPTION_HANDLERS
from roost.web.middleware import CrossSiteCookieGuard, InstanceMiddleware, RequestLogMiddleware
from roost.web.pages import assets as page_assets
from roost.web.pages import banks as banks_page
from roost.web.pages import collect as collect_page
from roost.web.pages import drive as drive_page
from roost.web.pages import home as home_page
from roost.web.pages import language as page_language
from roost.web.pages import notifications as notifications_page
from roost.web.pages import outbox as outbox_page
from roost.web.pages import photos as photos_page
from roost.web.pages import shared as shared_pages
from roost.web.pages import store as store_page
from roost.web.routing import IndexedRouter

# Hooks run at start-up and shutdown with the services (job runners, access-log flushers…).
LifespanHook = Callable[[Services], Any]


def route_table() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    routes += app_origins.ROUTES  # app origins ({slug}.{instance}) first
    routes += apps.ROUTES  # /apps
    routes += status.ROUTES
    routes += realtime.ROUTES  # /realtime/ websocket
    routes += page_assets.ROUTES  # /static/{name}.{hash}.{ext}
    routes += outbox_page.ROUTES  # /outbox, /outbox/{id}, its body, approve, refuse
    routes += shared_pages.ROUTES + share_links.ROUTES  # public /s/{code}…, owner's /share-links
    routes += banks_page.ROUTES  # /banks, /banks/operations/{id}, /banks/alerts
    routes += notifications_page.ROUTES  # /notifications, /notifications/unread
    routes += collect_page.ROUTES  # /collect, /collect/{slug}: connectors
    routes += store_page.ROUTES  # /store, /store/{registry}/{slug}
    routes += home_page.ROUTES  # / (Home), and the spaces still to come
    routes += drive_page.ROUTES  # /drive, /drive/{folder-id}, /drive/trash, /drive/search
    routes += photos_page.ROUTES  # /photos
    routes += albums_api.ROUTES  # /albums: the photo albums' JSON API
    routes += auth.ROUTES
    routes += oauth.ROUTES  # /auth/register, /auth/authorize, /auth/access_token, /auth/clients
    routes += access.ROUTES
    routes += page_language.ROUTES  # POST /settings/language
    routes += settings.ROUTES
    routes += jobs.ROUTES  # /jobs/queue, /jobs/triggers, /jobs/webhooks, /jobs/{id}
    routes += archives.ROUTES  # GET /files/archive (before /files/{file_id})
    routes += file_copies.ROUTES  # POST /files/{file_id}/copy (before POST /files/{dir_id})
    routes += thumbnails.ROUTES  # /files/{id}/thumbnails/{size} (before files.ROUTES)
    routes += files.ROUTES  # /files, references (before data.ROUTES), disk usage
    routes += dav.ROUTES  # /dav/files/ WebDAV (and OPTIONS / for Windows)
    routes += replication.ROUTES  # /data/{doctype}/_changes… (before data.ROUTES)
    routes += data.ROUTES
    return routes


def create_app(
    config: Config,
    *,
    couchdb_url: str | None = None,
    services: Services | None = None,
    on_startup: Sequence[LifespanHook] = (),
    on_shutdown: Sequence[LifespanHook] = (),
) -> Starlette:
    url = couchdb_url or config.couchdb_url
    if services is None:
        if not url:
            raise ValueError("create_app needs a CouchDB URL (config.couchdb_url or couchdb_url)")
        services = Services.build(config, url)
    built = services

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for hook in on_startup:
            result = hook(built)
            if hasattr(result, "__await__"):
                await result
        # Stacks on one CouchDB with local blob stores must share the disk: say so if not.
        await warn_about_separate_disks(built.config, built.couch)
        # Compiled apps are checked before any job can run one (never compiled on a request).
        await apps_on_startup(built)
        await built.banks.on_startup()  # each instance's trigger for new bank operations
        # After the hooks, which may register workers; jobs left queued are picked up now.
        await built.jobs.start()
        # Blob temporaries an outage or a crash left (in S3 they are not tied to a process).
        sweeper = asyncio.create_task(built.vfs.sweep_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            await built.jobs.stop()
            for hook in on_shutdown:
                result = hook(built)
                if hasattr(result, "__await__"):
                    await result
            await built.aclose()

    app = Starlette(
        routes=route_table(),
        middleware=[
            Middleware(RequestLogMiddleware, metrics=built.metrics),
            Middleware(CrossSiteCookieGuard),
            Middleware(InstanceMiddleware, services=built),
            Middleware(AccessLogMiddleware, access_log=built.access_log),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    # The same table, tried by first path segment (roost.web.routing says why).
    app.router = IndexedRouter(app.router.routes, lifespan=lifespan)
    app.state.services = built
    app.state.connector_catalogue = catalogue_for(built.apps)  # Collect's "available" list
    # WebDAV over the stack's services, through the ports `roost.webdav` declares.
    app.state.dav_server = build_dav_server(built)
    return app
