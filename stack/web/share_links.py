"""`/share-links`: the owner's JSON API for share links (create, list, read, revoke).

Managing share links is a stack action (`io.roost.share_links`: GET lists, POST creates,
DELETE revokes), asked through the one decision like app passwords are. Creating a link
also asks what the link would grant of its creator: GET on the file, folder or album
(POST in the folder for a drop link), so a token can only share what it may read itself,
and a file it may not read answers 404 exactly like a missing one. A link never outlives
its creator's grant. Also the Settings page's revoke form and the Drive dialog's markup.
See docs/api/sharing.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost.errors import Forbidden, NotFound
from roost.instances import Instance
from roost.permission_docs import PermissionDocs
from roost.permissions import (
    FILES_DOCTYPE,
    TRASH_DIR_ID,
    DocumentTarget,
    FileTarget,
    Hidden,
    Outcome,
    decide,
)
from roost.principals import Principal
from roost.services import Services
from roost.sharing import (
    ALBUMS_DOCTYPE,
    InvalidShareRequest,
    LinkRequest,
    SharedItem,
    ShareLink,
    ShareLinks,
    link_permissions,
    parse_link_request,
)
from roost.web.context import instance_of, principal_of, read_json, services_of
from roost.web.forms import owner_session, read_owner_form, session_csrf_token
from roost.web.stack_actions import require
from roost.web.templating import templates

SHARE_LINKS_DOCTYPE: Final = "io.roost.share_links"
REFUSED: Final = (
    "only the owner, signed in, or a token granted io.roost.share_links manages share links"
)
_NOWHERE: Final = FileTarget(id="", dir_id=None, type="file", name="")


# One service per process's services (it remembers when each link's last use was written).
_SERVICES: Final[WeakKeyDictionary[PermissionDocs, ShareLinks]] = WeakKeyDictionary()


def share_links_of(services: Services) -> ShareLinks:
    """The share-link service over these services' permission documents."""
    found = _SERVICES.get(services.permission_docs)
    if found is None:
        found = _SERVICES[services.permission_docs] = ShareLinks(services.permission_docs)
    return found


def link_json(link: ShareLink, name: str | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": link.id,
        "kind": link.kind,
        "target": {
            "type": link.item.doctype,
            "id": link.item.id,
            "name": name if name is not None else link.item.name,
            "what": link.item.what,
        },
        "expires_at": link.expires_at,
        "expired": link.is_expired(now),
        "password": link.has_password,
        "created_at": link.created_at,
        "last_used_at": link.last_used_at,
    }


async def current_name(services: Services, instance: Instance, link: ShareLink) -> str:
    """What the shared item is called now (renamed since?), else its name when shared."""
    if link.item.doctype == FILES_DOCTYPE:
        doc = await services.vfs.get_or_none(instance, link.item.id)
        return doc.name if doc is not None else link.item.name
    album = await services.documents.get_or_none(instance, ALBUMS_DOCTYPE, link.item.id)
    name = album.get("name") if album else None
    return name if isinstance(name, str) and name else link.item.name


def _decide(principal: Principal, verb: str, doctype: str, target: Any, **extra: Any) -> Any:
    return decide(principal.permissions, verb, doctype, target, now=datetime.now(UTC), **extra)


async def _shared_file(
    services: Services, instance: Instance, principal: Principal, wanted: LinkRequest
) -> SharedItem:
    doc = await services.vfs.get_or_none(instance, wanted.target_id)
    if doc is None or doc.in_trash or doc.is_trash_dir or doc.id == TRASH_DIR_ID:
        decision = _decide(principal, "GET", FILES_DOCTYPE, _NOWHERE, surface="stack")
        if decision.outcome is Outcome.DENY:
            decision.enforce()
        raise Hidden("GET", FILES_DOCTYPE)
    target = await services.vfs.targets(instance).for_doc(doc)
    _decide(principal, "GET", FILES_DOCTYPE, target, surface="stack").enforce()
    if doc.is_root:
        raise InvalidShareRequest("the whole Drive cannot be shared: share a folder or a file")
    if wanted.kind == "drop":
        if not doc.is_dir:
            raise InvalidShareRequest("a drop link is for a folder")
        # Visitors add files in it: its creator must be allowed to, too.
        _decide(principal, "POST", FILES_DOCTYPE, target, surface="stack").enforce()
    return SharedItem(FILES_DOCTYPE, doc.id, doc.name, "folder" if doc.is_dir else "file")


async def _shared_album(
    services: Services, instance: Instance, principal: Principal, wanted: LinkRequest
) -> SharedItem:
    album = await services.documents.get_or_none(instance, ALBUMS_DOCTYPE, wanted.target_id)
    target = DocumentTarget(album or {"_id": wanted.target_id})
    decision = _decide(principal, "GET", ALBUMS_DOCTYPE, target)
    if album is None:
        if decision.outcome is Outcome.DENY:
            decision.enforce()
        raise Hidden("GET", ALBUMS_DOCTYPE)
    decision.enforce()
    grant = link_permissions(ALBUMS_DOCTYPE, wanted.target_id, "read", wanted.expires_at)
    if not grant.is_subset_of(principal.permissions):
        raise Forbidden("a share link cannot grant more than its creator holds")
    name = album.get("name")
    shown = name if isinstance(name, str) else ""
    return SharedItem(ALBUMS_DOCTYPE, wanted.target_id, shown, "album")


async def create_link(request: Request) -> Response:
    """`POST /share-links`: a new link; its URL (with the code) is shown this once."""
    principal = await principal_of(request)
    require(principal, "POST", SHARE_LINKS_DOCTYPE, refusal=REFUSED)
    services, instance = services_of(request), instance_of(request)
    wanted = parse_link_request(await read_json(request), datetime.now(UTC))
    if wanted.doctype == FILES_DOCTYPE:
        item = await _shared_file(services, instance, principal, wanted)
    else:
        item = await _shared_album(services, instance, principal, wanted)
    own_expiry = principal.permissions.expires_at
    if own_expiry is not None and (wanted.expires_at is None or wanted.expires_at > own_expiry):
        raise Forbidden(
            "a share link cannot outlive the grant that makes it: give an earlier expires_at"
        )
    link, code = await share_links_of(services).create(instance, wanted, item)
    answer = link_json(link)
    answer["url"] = f"{request.base_url}s/{code}"
    return JSONResponse(answer, status_code=201)


async def list_links(request: Request) -> Response:
    """`GET /share-links`: every link not revoked (expired ones too), newest first."""
    principal = await principal_of(request)
    require(principal, "GET", SHARE_LINKS_DOCTYPE, refusal=REFUSED)
    services, instance = services_of(request), instance_of(request)
    links = await share_links_of(services).list(instance)
    return JSONResponse(
        {"links": [link_json(link, await current_name(services, instance, link)) for link in links]}
    )


async def read_link(request: Request) -> Response:
    principal = await principal_of(request)
    require(principal, "GET", SHARE_LINKS_DOCTYPE, refusal=REFUSED)
    services, instance = services_of(request), instance_of(request)
    link = await share_links_of(services).get(instance, request.path_params["link_id"])
    return JSONResponse(link_json(link, await current_name(services, instance, link)))


async def revoke_link(request: Request) -> Response:
    """`DELETE /share-links/{id}`: the link answers 410 from now on."""
    principal = await principal_of(request)
    require(principal, "DELETE", SHARE_LINKS_DOCTYPE, refusal=REFUSED)
    await share_links_of(services_of(request)).revoke(
        instance_of(request), request.path_params["link_id"]
    )
    return Response(status_code=204)


async def revoke_link_form(request: Request) -> Response:
    """The Settings page's revoke button (`POST /share-links/{id}/revoke`)."""
    principal = await principal_of(request)
    require(principal, "DELETE", SHARE_LINKS_DOCTYPE, refusal=REFUSED)
    await read_owner_form(request)
    try:
        await share_links_of(services_of(request)).revoke(
            instance_of(request), request.path_params["link_id"]
        )
    except NotFound:
        pass  # revoked already (a second click, another tab): the list shows it gone
    return RedirectResponse("/settings#share-links", status_code=303)


async def share_dialog(request: Request) -> Response:
    """`GET /share-links/dialog`: the Drive's share dialog, in the owner's language."""
    await principal_of(request)  # anonymous: 401, like every owner's route
    principal = await owner_session(request)
    if principal is None:
        raise Forbidden("only the owner's signed-in session opens the share dialog")
    context = {"csrf_token": session_csrf_token(request, principal)}
    return templates.TemplateResponse(
        request, "shared_dialog.html", context, headers={"Cache-Control": "private, no-store"}
    )


ROUTES = [
    Route("/share-links", list_links, methods=["GET"]),
    Route("/share-links", create_link, methods=["POST"]),
    Route("/share-links/dialog", share_dialog, methods=["GET"]),
    Route("/share-links/{link_id}", read_link, methods=["GET"]),
    Route("/share-links/{link_id}", revoke_link, methods=["DELETE"]),
    Route("/share-links/{link_id}/revoke", revoke_link_form, methods=["POST"]),
]


async def share_link_views(services: Services, instance: Instance) -> list[dict[str, Any]]:
    """The links for the Settings page: what is shared, by name (never an id)."""
    views = []
    for link in await share_links_of(services).list(instance):
        name = await current_name(services, instance, link)
        views.append({**link_json(link, name), "name": name})
    return views


async def visitor_names(services: Services, instance: Instance) -> dict[str, str]:
    """Link id → the name of what it shares (revoked links too: their visits stay in the
    access log), for saying who a `share-link:{id}` entry was."""
    names = {}
    for link in await share_links_of(services).list(instance, revoked=True):
        names[link.id] = await current_name(services, instance, link)
    return names
