"""`/store`: the catalogue of apps and connectors from the trusted registries.

- `GET /store` — every configured registry's packages (newest version of each), whether
  installed, whether an update is available; a registry that cannot be trusted is named with
  the reason, and none of its packages is offered.
- `GET /store/{registry}/{slug}` — one package: what it is, what it may do in plain words
  (for an update: only what it asks beyond the installed version).
- `POST /store/{registry}/{slug}/install` — fetch and verify the package
  (`roost.appstore.catalogue`); install at once when no consent is needed (an update asking
  for nothing more), else show the consent page, the verified package waiting in a staging
  area until `POST /store/accept/{staging}`.

The owner's session only (installing grants what a manifest asks: the whole `io.cozy.apps`
POST); every form carries the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roost.appstore import app_service
from roost.appstore.catalogue import CatalogueItem, PackageRefused, catalogue_for
from roost.appstore.service import AppService, ConsentRequired
from roost.appstore.updates import store_updates
from roost.errors import BadRequest, Forbidden, NotFound, RoostError
from roost.web.context import principal_of
from roost.web.forms import read_owner_form
from roost.web.pages.shell import Owner, owner_or_login, render
from roost.web.stack_actions import require

APPS_DOCTYPE: Final = "io.cozy.apps"
KINDS: Final = {"webapp": "App", "konnector": "Connector"}
INSTALL_REFUSED: Final = "only the owner, signed in, installs apps"


def _apps(owner: Owner) -> AppService:
    return app_service(owner.services)


async def _installer(request: Request) -> Owner:
    """Who posts an install form: 401 without credentials, 403 unless it is the owner's
    session (with its CSRF token) allowed to install. A form post is never redirected to the
    sign-in page: the form would be lost."""
    principal = await principal_of(request)
    # Installing grants the app what its manifest asks: the whole doctype, never a part.
    require(principal, "POST", APPS_DOCTYPE, refusal=INSTALL_REFUSED)
    await read_owner_form(request, refusal=INSTALL_REFUSED)
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        raise Forbidden(INSTALL_REFUSED)
    return owner


def _card(item: CatalogueItem) -> dict[str, Any]:
    return {
        "slug": item.slug,
        "name": item.manifest.name,
        "version": item.entry.version,
        "kind": KINDS.get(item.entry.type, item.entry.type),
        "type": item.entry.type,
        "summary": item.manifest.description[0] if item.manifest.description else "",
        "installed": item.installed.version if item.installed is not None else None,
        "update_available": item.update_available,
        "path": item.path,
        "source": item.source,
    }


async def store(request: Request) -> Response:
    """`GET /store`: the catalogue."""
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    await store_updates(owner.services).ensure_trigger(owner.instance)
    try:
        views = await catalogue_for(_apps(owner)).listing(owner.instance)
    except BadRequest as exc:  # a malformed trusted key in the configuration
        return await render(
            request,
            owner,
            "store.html",
            {"cards": [], "problems": [{"name": "", "reason": exc.reason}], "kinds": KINDS},
            space="store",
        )
    cards = [_card(item) for view in views for item in view.items]
    cards.sort(key=lambda c: (c["type"] != "konnector", c["name"].lower()))
    problems = [{"name": v.registry.location, "reason": v.problem} for v in views if v.problem]
    context = {"cards": cards, "problems": problems, "kinds": KINDS}
    return await render(request, owner, "store.html", context, space="store")


async def _detail(
    request: Request,
    owner: Owner,
    item: CatalogueItem,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    lines = await catalogue_for(_apps(owner)).added_lines(owner.instance, item)
    done = request.query_params.get("done")
    context = {
        "item": _card(item),
        "description": list(item.manifest.description),
        "lines": lines,
        "error": error,
        "done": done if done in ("installed", "updated", "current") else None,
        **_apps(owner).consent_limits(item.manifest),
    }
    return await render(
        request, owner, "store_detail.html", context, space="store", status_code=status_code
    )


async def detail(request: Request) -> Response:
    """`GET /store/{registry}/{slug}`: one package and what it may do."""
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    item = await _item(request, owner)
    if isinstance(item, Response):
        return item
    return await _detail(request, owner, item)


async def _item(request: Request, owner: Owner) -> CatalogueItem | Response:
    """The package `{registry}/{slug}` names, verified; else the page saying why not."""
    try:
        return await catalogue_for(_apps(owner)).item(
            owner.instance, request.path_params["registry"], request.path_params["slug"]
        )
    except PackageRefused as exc:
        return await _refused_page(request, owner, exc.reason)


async def _refused_page(request: Request, owner: Owner, reason: str) -> Response:
    return await render(
        request,
        owner,
        "store_refused.html",
        {"reason": reason},
        space="store",
        status_code=422,
    )


async def _stage(owner: Owner, item: CatalogueItem, data: bytes) -> str:
    """The verified package waits for the person's consent, with what was verified."""
    record = {
        "registry": item.registry.id,
        "slug": item.slug,
        "version": item.entry.version,
        "sha256": item.entry.sha256,
    }
    return await _apps(owner).pending_store_installs.put(owner.instance, data, record)


def _done_url(path: str, done: str) -> str:
    return f"{path}?done={quote(done)}"


async def install(request: Request) -> Response:
    """`POST /store/{registry}/{slug}/install`: verify, then install or ask for consent."""
    owner = await _installer(request)
    item = await _item(request, owner)
    if isinstance(item, Response):
        return item
    catalogue = catalogue_for(_apps(owner))
    if item.installed is not None and not item.update_available:
        return RedirectResponse(_done_url(item.path, "current"), status_code=303)
    try:
        data, package = await catalogue.fetch(item)
        await _apps(owner).install(owner.instance, package, consent=False)
    except ConsentRequired as exc:
        lines = await catalogue.added_lines(owner.instance, item)
        staging = await _stage(owner, item, data)
        context = {
            "item": _card(item),
            "description": list(item.manifest.description),
            "lines": lines,
            "upgrade": exc.upgrade,
            "staging": staging,
            **_apps(owner).consent_limits(item.manifest),
        }
        return await render(request, owner, "store_consent.html", context, space="store")
    except RoostError as exc:  # refused (PackageRefused), or a package that cannot run
        return await _detail(request, owner, item, error=exc.reason, status_code=422)
    await store_updates(owner.services).ensure_trigger(owner.instance)
    return RedirectResponse(
        _done_url(item.path, "updated" if item.installed else "installed"), status_code=303
    )


async def accept(request: Request) -> Response:
    """`POST /store/accept/{staging}`: the person consented; install the staged package."""
    owner = await _installer(request)
    token = request.path_params["staging"]
    pending = _apps(owner).pending_store_installs
    pending.check_token(token)
    try:
        return await _accept_staged(request, owner, token)
    except NotFound:
        raise
    except RoostError as exc:  # refused, or it failed to install: all was undone
        return await _refused_page(request, owner, exc.reason)
    finally:
        await pending.discard(owner.instance, token)


async def _accept_staged(request: Request, owner: Owner, token: str) -> Response:
    staged = await _apps(owner).pending_store_installs.get(owner.instance, token, recorded=True)
    record, data = staged.record, staged.data
    # The staged bytes were verified before the consent page; check they still are them.
    digest = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
    if digest != record.get("sha256"):
        raise PackageRefused("the waiting package was changed")
    service = _apps(owner)
    package = await service.read(data)
    if (package.manifest.slug, package.manifest.version) != (
        record.get("slug"),
        record.get("version"),
    ):
        raise PackageRefused("the waiting package is another one")
    before = await service.get_or_none(owner.instance, package.manifest.slug)
    await service.install(owner.instance, package, consent=True)
    await store_updates(owner.services).ensure_trigger(owner.instance)
    path = f"/store/{quote(str(record['registry']))}/{quote(package.manifest.slug)}"
    return RedirectResponse(
        _done_url(path, "updated" if before is not None else "installed"), status_code=303
    )


ROUTES = [
    Route("/store", store, methods=["GET"]),
    Route("/store/accept/{staging}", accept, methods=["POST"]),
    Route("/store/{registry}/{slug}", detail, methods=["GET"]),
    Route("/store/{registry}/{slug}/install", install, methods=["POST"]),
]
