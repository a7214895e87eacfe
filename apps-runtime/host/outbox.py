"""``roost:app/outbox`` (world 0.2.0): propose an outbound request instead of sending it.

The app never reaches the destination itself. ``propose`` checks the proposal's shape and the
grant, then hands it to the person's outbox (:class:`roost.apps.services.OutboxService`); only
the person's approval, outside any run, sends it. ``get`` and ``list`` read the app's own
proposals and, once sent, the destination's answer.

The grant is a rule on ``io.roost.outbox``: ``POST`` proposes, ``GET`` reads. A rule with
``"selector": "destination"`` and ``"values": ["https://insurer.example"]`` limits the
destinations; the proposal is decided as a document whose ``destination`` is the URL's
canonical origin, through the one decision like every other host call.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any, Final

from roost.apps.context import RunContext
from roost.apps.host.core import Call, HostImpl, json_object, need_service, request_body
from roost.apps.services import Invalid, NotFound
from roost.permissions import SOME_DOCUMENTS, DocumentTarget, decide
from roost.permissions.egress import parse_url_origin

__all__ = [
    "ALLOWED_HEADERS",
    "FUNCTIONS",
    "MAX_BODY_BYTES",
    "OUTBOX_DOCTYPE",
    "STATES",
    "shape_proposal",
]

OUTBOX_DOCTYPE: Final = "io.roost.outbox"
#: A message a person reads before it leaves: small on purpose.
MAX_BODY_BYTES: Final = 256 * 1024
MAX_SUMMARY: Final = 500
MAX_URL: Final = 2000
MAX_REFERENCE: Final = 200
METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
#: Headers a proposal may carry (plus ``X-*``): they describe the body, never credentials
#: or connection details the person could not judge.
ALLOWED_HEADERS: Final = frozenset({"content-type", "accept", "accept-language"})
MAX_HEADERS: Final = 20
DEFAULT_EXPIRY_SECONDS: Final = 7 * 24 * 3600
MIN_EXPIRY_SECONDS: Final = 60
MAX_EXPIRY_SECONDS: Final = 30 * 24 * 3600
STATES: Final = ("proposed", "sending", "sent", "failed", "refused", "expired")
MAX_LIST: Final = 200


def _headers(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise Invalid("headers must be an object of strings")
    if len(raw) > MAX_HEADERS:
        raise Invalid(f"at most {MAX_HEADERS} headers")
    out: dict[str, str] = {}
    for name, value in raw.items():
        lower = name.lower()
        if not (lower in ALLOWED_HEADERS or lower.startswith("x-")) or not name.isascii():
            raise Invalid(
                f"header {name!r} cannot be proposed: only Content-Type, Accept, "
                "Accept-Language and X-* headers"
            )
        if any(c in value for c in "\r\n\x00") or len(value) > 1000:
            raise Invalid(f"header {name!r} has an invalid value")
        out[lower] = value
    return out


def _body(req: dict[str, Any]) -> bytes:
    body = request_body(req, encode_errors="surrogatepass")
    if len(body) > MAX_BODY_BYTES:
        raise Invalid(f"a proposed body is at most {MAX_BODY_BYTES} bytes")
    return body


def shape_proposal(app: str, req: dict[str, Any]) -> dict[str, Any]:
    """The proposal as the outbox stores it, or :class:`Invalid` saying what is wrong."""
    url = req.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Invalid(f"the proposal needs a url of at most {MAX_URL} characters")
    origin = parse_url_origin(url)
    if origin is None:
        raise Invalid("url must be an absolute http(s) URL without credentials")
    method = req.get("method", "POST")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise Invalid(f"method must be one of {', '.join(sorted(METHODS))}")
    summary = req.get("summary")
    if not isinstance(summary, str) or not summary.strip() or len(summary) > MAX_SUMMARY:
        raise Invalid(f"summary: say in 1-{MAX_SUMMARY} characters what this sends and why")
    reference = req.get("reference")
    if reference is not None and (not isinstance(reference, str) or len(reference) > MAX_REFERENCE):
        raise Invalid(f"reference must be a string of at most {MAX_REFERENCE} characters")
    expires = req.get("expires_in_seconds", DEFAULT_EXPIRY_SECONDS)
    if (
        not isinstance(expires, int)
        or isinstance(expires, bool)
        or not MIN_EXPIRY_SECONDS <= expires <= MAX_EXPIRY_SECONDS
    ):
        raise Invalid(
            f"expires_in_seconds must be from {MIN_EXPIRY_SECONDS} to {MAX_EXPIRY_SECONDS}"
        )
    body = _body(req)
    shaped: dict[str, Any] = {
        "app": app,
        "url": url,
        "method": method.upper(),
        "destination": str(origin),
        "headers": _headers(req.get("headers")),
        "summary": summary.strip(),
        "reference": reference,
        "expires_in_seconds": expires,
    }
    try:
        shaped["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        shaped["body_base64"] = base64.b64encode(body).decode("ascii")
    return shaped


def _propose(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    (text,) = args
    call.doctype = OUTBOX_DOCTYPE
    shaped = shape_proposal(run.app, json_object(text, "the proposal"))
    call.egress_host = shaped["destination"]
    # A new document named into being by the caller: a destination outside the grant is
    # refused openly (hiding it would protect nothing), before anything is stored.
    decide(
        run.grant,
        "POST",
        OUTBOX_DOCTYPE,
        DocumentTarget(shaped),
        now=datetime.now(UTC),
        surface="stack",
    ).enforce_openly()
    outbox = need_service(run.services.outbox, "outbox")
    stored = run.bridge(outbox.propose(run.app, shaped))
    call.count, call.bytes = 1, len(text)
    call.ids = (str(stored.get("id", "")),)
    return stored


def _require_some_reading(run: RunContext) -> None:
    """No GET rule at all (or an expired grant): refused openly, before any lookup, so
    whether a proposal exists never changes the answer."""
    decide(
        run.grant, "GET", OUTBOX_DOCTYPE, SOME_DOCUMENTS, now=datetime.now(UTC), surface="stack"
    ).enforce()


def _readable(run: RunContext, proposal: dict[str, Any]) -> bool:
    if proposal.get("app") != run.app:
        return False
    return decide(
        run.grant,
        "GET",
        OUTBOX_DOCTYPE,
        DocumentTarget(proposal),
        now=datetime.now(UTC),
        surface="stack",
    ).allowed


def _get(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    (proposal_id,) = args
    call.doctype = OUTBOX_DOCTYPE
    _require_some_reading(run)
    outbox = need_service(run.services.outbox, "outbox")
    proposal = run.bridge(outbox.get(run.app, proposal_id))
    if not _readable(run, proposal):
        raise NotFound("missing")  # another app's, or outside the grant: as if absent
    call.count, call.ids = 1, (proposal_id,)
    return proposal


def _list(run: RunContext, call: Call, args: tuple[Any, ...]) -> Any:
    (text,) = args
    call.doctype = OUTBOX_DOCTYPE
    query = json_object(text or "{}", "the query")
    state = query.get("state")
    if state is not None and state not in STATES:
        raise Invalid(f"state must be one of {', '.join(STATES)}")
    reference = query.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise Invalid("reference must be a string")
    limit = query.get("limit", 50)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST:
        raise Invalid(f"limit must be from 1 to {MAX_LIST}")
    _require_some_reading(run)
    outbox = need_service(run.services.outbox, "outbox")
    found = run.bridge(outbox.list(run.app, state=state, reference=reference, limit=limit))
    shown = [p for p in found if _readable(run, p)]
    call.count = len(shown)
    call.ids = tuple(str(p.get("id", "")) for p in shown[:20])
    return {"proposals": shown}


FUNCTIONS: list[tuple[str, str, HostImpl]] = [
    ("propose", "POST", _propose),
    ("get", "GET", _get),
    ("list", "GET", _list),
]
