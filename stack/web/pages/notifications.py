"""`/notifications`: the person's notifications, the bell's count, and e-mail by choice.

- `GET /notifications`: the list (newest first) with "Mark as read", "Mark all as read", and
  the e-mail form (shown when the operator configured SMTP);
- `GET /notifications/unread`: `{"unread": n}` for the bell's script (docs/api/notifications.md);
- `POST /notifications/{id}/read`, `POST /notifications/{id}/open` (marks read, then goes to
  the notification's link), `POST /notifications/read-all`, `POST /notifications/mail`.

Every read and write asks the permission decision about `io.cozy.notifications`.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, Forbidden, RoostError
from roost.notifications import MAX_UNREAD, NOTIFICATIONS_DOCTYPE, Notification
from roost.web.error_table import answer_for
from roost.web.forms import read_owner_form
from roost.web.pages.shell import Owner, owner_or_login, render, signed_in_owner

REFUSED: Final = "this session may not read or change notifications"
LIST_SIZE: Final = 50


def _view(note: Notification) -> dict[str, Any]:
    return {
        "id": note.id,
        "title": note.title,
        "message": note.message,
        "link": note.link,
        "source": note.source,
        "category": note.category,
        "created_at": note.created_at,
        "unread": note.read_at is None,
    }


def _require(owner: Owner, verb: str) -> None:
    if not owner.may(verb, NOTIFICATIONS_DOCTYPE):
        raise Forbidden(REFUSED)


async def _page(
    request: Request,
    owner: Owner,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    _require(owner, "GET")
    services = owner.services
    notes = await services.notifications.recent(owner.instance, LIST_SIZE)
    preference = await services.notifications.preferences.get(owner.instance)
    context = {
        "notes": [_view(note) for note in notes],
        "unread": sum(1 for note in notes if note.read_at is None),
        "mail_available": services.notifications.mail is not None,
        "mail": preference,
        "error": error,
        "notice": notice,
    }
    return await render(
        request,
        owner,
        "notifications.html",
        context,
        space="notifications",
        status_code=status_code,
    )


async def notifications_page(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    return await _page(request, owner)


async def unread(request: Request) -> Response:
    owner = await signed_in_owner(request, "the bell's count is for the owner's signed-in session")
    _require(owner, "GET")
    count = await owner.services.notifications.unread_count(owner.instance)
    return JSONResponse(
        {"unread": count, "more": count >= MAX_UNREAD},
        headers={"Cache-Control": "private, no-store"},
    )


async def _owner_for_write(request: Request) -> Owner:
    owner = await signed_in_owner(request, REFUSED)
    await read_owner_form(request)
    _require(owner, "PUT")
    return owner


async def mark_read(request: Request) -> Response:
    owner = await _owner_for_write(request)
    await owner.services.notifications.mark_read(
        owner.instance, request.path_params["notification_id"]
    )
    return RedirectResponse("/notifications", status_code=303)


async def open_notification(request: Request) -> Response:
    owner = await _owner_for_write(request)
    note = await owner.services.notifications.mark_read(
        owner.instance, request.path_params["notification_id"]
    )
    # `link` is always a path on this origin (checked when the notification was made).
    return RedirectResponse(note.link or "/notifications", status_code=303)


async def mark_all_read(request: Request) -> Response:
    owner = await _owner_for_write(request)
    await owner.services.notifications.mark_all_read(owner.instance)
    return RedirectResponse("/notifications", status_code=303)


async def mail_preference(request: Request) -> Response:
    owner = await signed_in_owner(request, REFUSED)
    fields = await read_owner_form(request)
    _require(owner, "PUT")
    enabled = fields.get("enabled", "") == "on"
    try:
        if owner.services.notifications.mail is None and enabled:
            raise BadRequest("this server sends no e-mail: its operator set up no SMTP server")
        await owner.services.notifications.preferences.set(
            owner.instance, fields.get("address", ""), enabled
        )
    except RoostError as error:
        return await _page(request, owner, status_code=answer_for(error).status, error=error.reason)
    return await _page(request, owner, notice="mail")


ROUTES = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications/unread", unread, methods=["GET"]),
    Route("/notifications/read-all", mark_all_read, methods=["POST"]),
    Route("/notifications/mail", mail_preference, methods=["POST"]),
    Route("/notifications/{notification_id}/read", mark_read, methods=["POST"]),
    Route("/notifications/{notification_id}/open", open_notification, methods=["POST"]),
]
