"""`/outbox`: what apps propose to send, shown exactly as it would leave; the owner decides.

- `GET /outbox` lists the proposals, those waiting for a decision first.
- `GET /outbox/{id}` shows one: who proposes it, to whom, the method and address, the
  headers, the body as readable fields, when it expires, and Approve / Refuse forms. Each
  form carries the revision shown, so a decision applies only to what the person saw.
- `GET /outbox/{id}/body` downloads the exact bytes that would leave.
- `POST /outbox/{id}/approve` and `POST /outbox/{id}/refuse`: owner forms (session, CSRF;
  401 without credentials, 403 for a token or an app password),
  asked as `PUT` on the proposal through the one permission decision; the domain's
  conditional transition makes a double click or a second process send nothing more.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, Forbidden
from roost.outbox import (
    OUTBOX_DOCTYPE,
    AlreadyDecided,
    ProposalChanged,
    ProposalNotFound,
    ProposerRevoked,
    body_bytes,
    effective_state,
    readable_body,
)
from roost.permissions import DocumentTarget
from roost.types import JSONDoc
from roost.web.forms import read_owner_form
from roost.web.i18n import PageLanguage, language_of
from roost.web.pages.shell import Owner, owner_or_login, render, signed_in_owner
from roost.web.stack_actions import require

# The English words of each state (translated in the template, English is the key).
STATE_WORDS: Final = {
    "proposed": "Waiting for your decision",
    "sending": "Approved, being sent",
    "sent": "Sent",
    "failed": "Approved, but sending failed",
    "refused": "Refused: not sent",
    "expired": "Expired: not sent",
}
DECIDE_REFUSAL: Final = "Only the owner, signed in, decides what leaves the outbox"
READ_REFUSAL: Final = "Only the owner, signed in, reads the outbox"


def _now() -> datetime:
    return datetime.now(UTC)


def _summary(doc: JSONDoc, now: datetime, language: PageLanguage) -> dict[str, Any]:
    state = effective_state(doc, now)
    url = str(doc.get("url", ""))
    return {
        "id": doc["_id"],
        "app": str(doc.get("app", "")),
        "summary": str(doc.get("summary", "")),
        "destination": str(doc.get("destination", "")),
        "method": str(doc.get("method", "")),
        "url": url,
        "state": state,
        "state_words": STATE_WORDS.get(state, state),
        "created": language.datetime(doc.get("created_at")),
        "expires": language.datetime(doc.get("expires_at")),
        "decided": language.datetime(doc.get("decided_at")),
        "sent": language.datetime(doc.get("sent_at")),
    }


async def _proposal(owner: Owner, proposal_id: str) -> JSONDoc:
    if not owner.may("GET", OUTBOX_DOCTYPE):
        raise Forbidden(READ_REFUSAL)
    return await owner.services.outbox.get(owner.instance, proposal_id)


async def outbox_list(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    if not owner.may("GET", OUTBOX_DOCTYPE):
        raise Forbidden(READ_REFUSAL)
    now = _now()
    language = PageLanguage(language_of(request))
    docs = await owner.services.outbox.list(owner.instance, now=now)
    shown = [_summary(doc, now, language) for doc in docs]
    context = {
        "waiting": [p for p in shown if p["state"] == "proposed"],
        "decided": [p for p in shown if p["state"] != "proposed"],
    }
    return await render(request, owner, "outbox.html", context, space="outbox")


async def _detail(
    request: Request, owner: Owner, doc: JSONDoc, *, notice: str = "", status_code: int = 200
) -> Response:
    now = _now()
    language = PageLanguage(language_of(request))
    headers = {str(k): str(v) for k, v in dict(doc.get("headers") or {}).items()}
    body = body_bytes(doc)
    answer = doc.get("answer") if isinstance(doc.get("answer"), dict) else None
    context = {
        "proposal": _summary(doc, now, language),
        "rev": doc["_rev"],
        "headers": sorted(headers.items()),
        "body": readable_body(body, headers.get("content-type", "")),
        "answer": answer,
        "error": doc.get("error"),
        "notice": notice,
    }
    return await render(
        request, owner, "outbox_proposal.html", context, space="outbox", status_code=status_code
    )


async def _missing(request: Request, owner: Owner) -> Response:
    return await render(request, owner, "outbox_missing.html", {}, space="outbox", status_code=404)


async def outbox_proposal(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    try:
        doc = await _proposal(owner, request.path_params["proposal_id"])
    except ProposalNotFound:
        return await _missing(request, owner)
    return await _detail(request, owner, doc)


async def outbox_body(request: Request) -> Response:
    owner = await owner_or_login(request)
    if isinstance(owner, Response):
        return owner
    doc = await _proposal(owner, request.path_params["proposal_id"])
    # The exact bytes, as a download: never rendered by the browser on the person's origin.
    return Response(
        body_bytes(doc),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="outbox-{doc["_id"]}.body"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _decide(request: Request, action: str) -> Response:
    owner = await signed_in_owner(request, DECIDE_REFUSAL)
    fields = await read_owner_form(request)
    proposal_id = request.path_params["proposal_id"]
    try:
        doc = await _proposal(owner, proposal_id)
    except ProposalNotFound:
        return await _missing(request, owner)
    require(owner.principal, "PUT", OUTBOX_DOCTYPE, DocumentTarget(doc), refusal=DECIDE_REFUSAL)
    seen_rev = fields.get("rev", "")
    if not seen_rev:
        raise BadRequest("the form must say which version of the message you saw (rev)")
    outbox = owner.services.outbox
    try:
        if action == "approve":
            await outbox.approve(owner.instance, proposal_id, seen_rev=seen_rev, now=_now())
        else:
            await outbox.refuse(owner.instance, proposal_id, seen_rev=seen_rev, now=_now())
    except (AlreadyDecided, ProposalChanged, ProposerRevoked) as exc:
        latest = await outbox.get(owner.instance, proposal_id)
        language = PageLanguage(language_of(request))
        return await _detail(
            request, owner, latest, notice=language.gettext(exc.reason), status_code=409
        )
    return RedirectResponse(f"/outbox/{proposal_id}", status_code=303)


async def outbox_approve(request: Request) -> Response:
    return await _decide(request, "approve")


async def outbox_refuse(request: Request) -> Response:
    return await _decide(request, "refuse")


__all__ = ["ROUTES"]

ROUTES = [
    Route("/outbox", outbox_list, methods=["GET"]),
    Route("/outbox/{proposal_id}", outbox_proposal, methods=["GET"]),
    Route("/outbox/{proposal_id}/body", outbox_body, methods=["GET"]),
    Route("/outbox/{proposal_id}/approve", outbox_approve, methods=["POST"]),
    Route("/outbox/{proposal_id}/refuse", outbox_refuse, methods=["POST"]),
]
