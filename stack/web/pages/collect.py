"""`/collect`: the connectors — installed and available — and one page per connector.

- `GET /collect`: installed connectors (last run in plain words) and available ones.
- `GET /collect/{slug}`: what it may read, write and reach; its accounts (a form from the
  manifest's `fields`); its schedule; its last runs and the data each brought.
  `?runs=1` answers the runs section alone: `collect.js` polls it while a run is queued or
  running, so the page shows "Running…" and then the outcome without a reload.
- `POST /collect/{slug}/run`: queue a run now.
- `POST /collect/{slug}/accounts[/{account_id}]`: save an account; `…/delete`: delete it.

Thin: the rules live in `roost.appstore.collect`; every read and write asks the one
permission decision first.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roost.appstore.account_form import AccountFormInvalid
from roost.appstore.accounts import ACCOUNTS_DOCTYPE
from roost.appstore.collect import NO_CATALOGUE, Catalogue, Collect
from roost.appstore.service import KONNECTORS_DOCTYPE
from roost.errors import Forbidden, NotFound
from roost.jobs import JOBS_DOCTYPE
from roost.web.forms import read_owner_form
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.shell import Owner, owner_or_login, render, signed_in_owner
from roost.web.stack_actions import app_target
from roost.web.templating import templates

# What collect.js says, translated on the server and handed to it as JSON.
JS_MESSAGES: Final = ("Running…", "Something went wrong. Please try again.")


def collect_of(request: Request, owner: Owner) -> Collect:
    # The Store's registries plug their catalogue in as `app.state.connector_catalogue`.
    catalogue: Catalogue = getattr(request.app.state, "connector_catalogue", NO_CATALOGUE)
    return Collect(owner.services.apps, owner.services.vfs, catalogue)


def _require(owner: Owner, verb: str, doctype: str, target: Any = None) -> None:
    if not owner.may(verb, doctype, target):
        if verb == "GET":
            raise NotFound("missing")
        raise Forbidden("only the owner manages connectors")


async def collect_page(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    collect = collect_of(request, owner)
    installed: list[Any] = []
    available: list[Any] = []
    if owner.may("GET", KONNECTORS_DOCTYPE):
        installed = await collect.installed(owner.instance)
        available = await collect.available(owner.instance)
    context = {"installed": installed, "available": available}
    return await render(request, owner, "collect.html", context, space="collect")


async def _connector_page(
    request: Request,
    owner: Owner,
    slug: str,
    *,
    problems: dict[str, str] | None = None,
    posted: dict[str, str] | None = None,
    editing: str | None = None,
    status_code: int = 200,
) -> Response:
    collect = collect_of(request, owner)
    app = await collect.connector(owner.instance, slug)
    _require(owner, "GET", KONNECTORS_DOCTYPE, app_target(app.doc))
    if request.query_params.get("runs") == "1":
        section = await collect.runs(owner.instance, slug)
        return templates.TemplateResponse(
            request,
            "collect_runs.html",
            {"connector": section},
            headers={"Cache-Control": "private, no-store"},
        )
    view = await collect.view(owner.instance, slug)
    if not owner.may("GET", ACCOUNTS_DOCTYPE):
        view = dataclasses.replace(view, accounts=())
    context: dict[str, Any] = {"connector": view}
    language = PageLanguage(language_of(request))
    # A refused form is shown again with what was typed - except any password.
    secrets = {f.name for f in view.fields if f.secret}
    context.update(
        problems=problems or {},
        posted={k: v for k, v in (posted or {}).items() if k not in secrets and k != "csrf_token"},
        editing=editing,
        messages={message: language.gettext(message) for message in JS_MESSAGES},
    )
    return await render(
        request, owner, "collect_connector.html", context, space="collect", status_code=status_code
    )


async def connector_page(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    return await _connector_page(request, owner, request.path_params["slug"])


async def run_now(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not run a connector")
    form = await read_owner_form(request)
    slug = request.path_params["slug"]
    collect = collect_of(request, owner)
    app = await collect.connector(owner.instance, slug)
    _require(owner, "POST", KONNECTORS_DOCTYPE, app_target(app.doc))
    _require(owner, "POST", JOBS_DOCTYPE)
    await collect.run_now(owner.instance, slug, form.get("account") or None)
    return RedirectResponse(f"/collect/{slug}#runs", status_code=303)


async def save_account(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change a connector's accounts")
    form = await read_owner_form(request)
    slug = request.path_params["slug"]
    account_id = request.path_params.get("account_id")
    _require(owner, "PUT" if account_id else "POST", ACCOUNTS_DOCTYPE)
    collect = collect_of(request, owner)
    try:
        await collect.save_account(owner.instance, slug, form, account_id)
    except AccountFormInvalid as refused:
        return await _connector_page(
            request,
            owner,
            slug,
            problems=refused.problems,
            posted=form,
            editing=account_id or "new",
            status_code=400,
        )
    return RedirectResponse(f"/collect/{slug}#accounts", status_code=303)


async def delete_account(request: Request) -> Response:
    owner = await signed_in_owner(request, "this session may not change a connector's accounts")
    await read_owner_form(request)
    slug = request.path_params["slug"]
    _require(owner, "DELETE", ACCOUNTS_DOCTYPE)
    await collect_of(request, owner).delete_account(
        owner.instance, slug, request.path_params["account_id"]
    )
    return RedirectResponse(f"/collect/{slug}#accounts", status_code=303)


ROUTES = [
    Route("/collect", collect_page, methods=["GET"]),
    Route("/collect/{slug}", connector_page, methods=["GET"]),
    Route("/collect/{slug}/run", run_now, methods=["POST"]),
    Route("/collect/{slug}/accounts", save_account, methods=["POST"]),
    Route("/collect/{slug}/accounts/{account_id}", save_account, methods=["POST"]),
    Route("/collect/{slug}/accounts/{account_id}/delete", delete_account, methods=["POST"]),
]
